using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// futex(2) on a word in a shared file mapping: the kernel primitive under sem_wait and pthread mutexes. Without
    /// FUTEX_PRIVATE_FLAG the wait queue is keyed by the file's inode and offset, so processes that map the same lock file
    /// wake each other. Only on 64-bit Linux (where <see cref="TimeSpec"/> matches struct timespec); elsewhere
    /// <see cref="IsSupported"/> is false and callers poll.
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static unsafe partial class Futex
    {
        private const int FutexWait = 0;
        private const int FutexWake = 1;

        /// <summary>SYS_futex: 202 on x86-64; 98 on the architectures that use the generic syscall table.</summary>
        private static readonly long s_syscallNumber = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 202,
            Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 98,
            _ => -1,
        };

        /// <summary>Whether futex waits are available on this machine.</summary>
        internal static bool IsSupported => s_syscallNumber > 0 && IntPtr.Size == 8;

        // syscall(long, ...) is variadic; on x86-64 glibc's wrapper is assembly that ignores %al, and Linux arm64,
        // riscv64 and loongarch64 pass variadic integers and pointers like fixed ones.
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        private static partial long Syscall(long number, int* address, int operation, int value, TimeSpec* timeout, nint address2, int value3);

        /// <summary>
        /// Sleeps while <c>*address == expected</c>, at most <paramref name="milliseconds"/>. Returns 0 when woken,
        /// or the errno: EAGAIN (the word already differed), ETIMEDOUT or EINTR. Every outcome is a reason to look again.
        /// </summary>
        internal static int Wait(int* address, int expected, int milliseconds)
        {
            var relative = new TimeSpec { Seconds = milliseconds / 1000, Nanoseconds = milliseconds % 1000 * 1_000_000L };
            return Syscall(s_syscallNumber, address, FutexWait, expected, &relative, 0, 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        /// <summary>Wakes every process and thread sleeping on <paramref name="address"/>.</summary>
        internal static void WakeAll(int* address) => Syscall(s_syscallNumber, address, FutexWake, int.MaxValue, null, 0, 0);
    }
}
