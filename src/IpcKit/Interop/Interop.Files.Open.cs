using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// open(2) with the flags .NET does not expose: O_NOFOLLOW (an object opened by name is never reached through a
    /// symlink someone planted), O_TMPFILE (an unnamed file that is linked in only once it is complete, so a creator that
    /// is killed leaves nothing), and no flock of .NET's FileShare emulation on the descriptor.
    /// </summary>
    internal static partial class Files
    {
        // Linux values differ between x86-64 (and the generic table) and arm/arm64 for O_DIRECTORY and O_NOFOLLOW.
        private static readonly bool s_armFlags = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

        internal static int OpenReadWrite => 2;

        internal static int OpenCreate => OperatingSystem.IsLinux() ? 0x40 : 0x200;

        internal static int OpenExclusive => OperatingSystem.IsLinux() ? 0x80 : 0x800;

        internal static int OpenNoFollow => OperatingSystem.IsLinux() ? (s_armFlags ? 0x8000 : 0x20000) : 0x100;

        internal static int OpenCloseOnExec => OperatingSystem.IsLinux() ? 0x80000 : 0x1000000;

        /// <summary>O_TMPFILE (Linux only): __O_TMPFILE | O_DIRECTORY.</summary>
        internal static int OpenTemporary => 0x400000 | (s_armFlags ? 0x4000 : 0x10000);

        private const int AtFdCwdForLink = -100;
        private const int AtSymlinkFollow = 0x400;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenNative(string path, int flags);

        // open(const char*, int, ...): the mode is variadic. See Interop.Semaphore.cs for the Apple arm64 padding.
        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenNativeWithMode(string path, int flags, uint mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int OpenNativeWithModeAppleArm64(string path, int flags, nint pad2, nint pad3, nint pad4, nint pad5, nint pad6, nint pad7, ulong mode);

        [LibraryImport(Libraries.Libc, EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int UnlinkNative(string path);

        [LibraryImport(Libraries.Libc, EntryPoint = "linkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int LinkAtNative(int oldDirectory, string oldPath, int newDirectory, string newPath, int flags);

        /// <summary>open(2); null with the errno when it fails. <paramref name="mode"/> is used with O_CREAT or O_TMPFILE.</summary>
        internal static SafeFileHandle? Open(string path, int flags, uint mode, out int errno)
        {
            int fd;
            if (mode == 0)
            {
                fd = OpenNative(path, flags);
            }
            else if (OperatingSystem.IsMacOS() && RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            {
                fd = OpenNativeWithModeAppleArm64(path, flags, 0, 0, 0, 0, 0, 0, mode);
            }
            else
            {
                fd = OpenNativeWithMode(path, flags, mode);
            }

            if (fd < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }

            errno = 0;
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        /// <summary>unlink(2); 0 or the errno.</summary>
        internal static int Unlink(string path) => UnlinkNative(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

        /// <summary>
        /// Gives an O_TMPFILE file its name: linkat of /proc/self/fd/N, which needs no privilege (AT_EMPTY_PATH would need
        /// CAP_DAC_READ_SEARCH). 0 or the errno; EEXIST when the name is taken, which makes this an exclusive create.
        /// </summary>
        [SupportedOSPlatform("linux")]
        internal static int LinkTemporary(SafeFileHandle file, string path)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                string self = "/proc/self/fd/" + file.DangerousGetHandle().ToString(System.Globalization.CultureInfo.InvariantCulture);
                return LinkAtNative(AtFdCwdForLink, self, AtFdCwdForLink, path, AtSymlinkFollow) == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }
    }
}
