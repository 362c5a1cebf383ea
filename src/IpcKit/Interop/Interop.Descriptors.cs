using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>File descriptor flags.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static partial class Descriptors
    {
        // ioctl(fd, FIOCLEX) sets close-on-exec without fcntl's variadic third argument, which Apple arm64 would
        // expect on the stack; ioctl here has no variadic argument at all.
        private const uint FioclexLinux = 0x5451;
        private const uint FioclexDarwin = 0x20006601;

        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        private static partial int Ioctl(int fd, nuint request);

        /// <summary>Marks an inherited descriptor close-on-exec, so programs this process starts do not inherit it.</summary>
        internal static bool SetCloseOnExec(SafeHandle descriptor)
        {
            bool added = false;
            try
            {
                descriptor.DangerousAddRef(ref added);
                int fd = (int)descriptor.DangerousGetHandle();
                return Ioctl(fd, OperatingSystem.IsLinux() ? FioclexLinux : FioclexDarwin) == 0;
            }
            finally
            {
                if (added)
                {
                    descriptor.DangerousRelease();
                }
            }
        }
    }
}
