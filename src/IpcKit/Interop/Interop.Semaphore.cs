using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>POSIX named semaphores (sem_overview(7)).</summary>
    [UnsupportedOSPlatform("windows")]
    internal static partial class Semaphores
    {
        internal const int O_CREAT_Linux = 0x40;
        internal const int O_EXCL_Linux = 0x80;
        internal const int O_CREAT_Darwin = 0x200;
        internal const int O_EXCL_Darwin = 0x800;

        /// <summary>SEM_VALUE_MAX: INT_MAX on Linux and on macOS.</summary>
        internal const int SemValueMax = int.MaxValue;

        internal static int O_CREAT => OperatingSystem.IsLinux() ? O_CREAT_Linux : O_CREAT_Darwin;

        internal static int O_EXCL => OperatingSystem.IsLinux() ? O_EXCL_Linux : O_EXCL_Darwin;

        /// <summary>Opens without creating (the two-argument form, no variadic arguments involved).</summary>
        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial SafeSemaphoreHandle SemOpen(string name, int oflag);

        // sem_open(const char*, int, ...) is variadic: mode and value travel as variadic arguments. On x86-64 and on
        // Linux arm64 a variadic integer is passed exactly like a fixed one, so declaring them as fixed is correct.
        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial SafeSemaphoreHandle SemOpenCreate(string name, int oflag, uint mode, uint value);

        // Apple arm64 passes every variadic argument on the stack in its own 8-byte slot, while the first eight fixed
        // arguments go in registers x0-x7. Six padding arguments fill x2-x7 so that mode and value, declared as
        // 64-bit, land in the first two stack slots where va_arg reads them.
        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial SafeSemaphoreHandle SemOpenCreateAppleArm64(
            string name, int oflag, nint pad2, nint pad3, nint pad4, nint pad5, nint pad6, nint pad7, ulong mode, ulong value);

        /// <summary>Creates (or opens, without O_EXCL) with the given mode and initial value.</summary>
        internal static SafeSemaphoreHandle SemOpen(string name, int oflag, uint mode, uint value)
        {
            if (OperatingSystem.IsMacOS() && RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            {
                return SemOpenCreateAppleArm64(name, oflag, 0, 0, 0, 0, 0, 0, mode, value);
            }

            return SemOpenCreate(name, oflag, mode, value);
        }

        /// <summary>Initializes a sem_t in memory; IpcKit writes a process-shared one into a new semaphore file.</summary>
        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_init", SetLastError = true)]
        internal static unsafe partial int SemInit(byte* sem, int processShared, uint value);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_close", SetLastError = true)]
        internal static partial int SemClose(IntPtr sem);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int SemUnlink(string name);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_post", SetLastError = true)]
        internal static partial int SemPost(SafeSemaphoreHandle sem);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_trywait", SetLastError = true)]
        internal static partial int SemTryWait(SafeSemaphoreHandle sem);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_timedwait", SetLastError = true)]
        internal static unsafe partial int SemTimedWait(SafeSemaphoreHandle sem, TimeSpec* absoluteRealtime);

        /// <summary>glibc 2.30+: a wait against CLOCK_MONOTONIC, immune to wall-clock changes. Probe with <see cref="HasClockWait"/>.</summary>
        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_clockwait", SetLastError = true)]
        internal static unsafe partial int SemClockWait(SafeSemaphoreHandle sem, int clockId, TimeSpec* absolute);

        [LibraryImport(Libraries.Semaphores, EntryPoint = "sem_getvalue", SetLastError = true)]
        internal static unsafe partial int SemGetValue(SafeSemaphoreHandle sem, int* value);

        /// <summary>Whether this C library has sem_clockwait (glibc 2.30 or later).</summary>
        internal static readonly bool HasClockWait = OperatingSystem.IsLinux() && ProbeExport(Libraries.Semaphores, "sem_clockwait");
    }

    private static bool ProbeExport(string library, string symbol)
    {
        try
        {
            IntPtr handle = NativeLibrary.Load(library, typeof(Interop).Assembly, null);
            return NativeLibrary.TryGetExport(handle, symbol, out _);
        }
        catch (DllNotFoundException)
        {
            return false;
        }
    }
}
