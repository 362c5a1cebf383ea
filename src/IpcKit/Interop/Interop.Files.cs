using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>File ownership and advisory locks: what the pipe channel needs to own a socket name safely.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static unsafe partial class Files
    {
        internal const int LockExclusive = 2;
        internal const int LockNonBlocking = 4;

        private const int AtFdCwd = -100;
        private const int AtSymlinkNoFollow = 0x100;
        private const int AtEmptyPath = 0x1000;
        private const uint StatxBasicStats = 0x7ff;
        private const int StatxSize = 256;

        // struct statx offsets; the layout is the same on every Linux architecture, unlike struct stat.
        private const int StatxLinkCountOffset = 16;
        private const int StatxUidOffset = 20;
        private const int StatxModeOffset = 28;
        private const int StatxInodeOffset = 32;
        private const int StatxSizeOffset = 40;

        /// <summary>The file type bits of a mode, and the value for a directory.</summary>
        internal const uint TypeMask = 0xF000;
        internal const uint TypeDirectory = 0x4000;

        /// <summary>What statx reports about one file.</summary>
        internal readonly record struct FileStatus(uint UserId, uint Mode, ulong Inode)
        {
            /// <summary>Hard links to the inode; 0 once it was unlinked while still open.</summary>
            internal uint LinkCount { get; init; }

            /// <summary>The size in bytes.</summary>
            internal ulong Size { get; init; }
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "geteuid")]
        internal static partial uint GetEffectiveUserId();

        [LibraryImport(Libraries.Libc, EntryPoint = "flock", SetLastError = true)]
        private static partial int FLock(int fd, int operation);

        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

        /// <summary>flock(2) on an open file; returns 0 or the errno.</summary>
        internal static int Lock(SafeFileHandle file, int operation)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                return FLock((int)file.DangerousGetHandle(), operation) == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }

        /// <summary>statx(2) of a path without following a final symlink; null with the errno when it fails (ENOSYS where statx is missing).</summary>
        [SupportedOSPlatform("linux")]
        internal static FileStatus? StatPath(string path, out int errno) => StatCore(AtFdCwd, path, AtSymlinkNoFollow, out errno);

        /// <summary>statx(2) of an open file.</summary>
        [SupportedOSPlatform("linux")]
        internal static FileStatus? StatHandle(SafeFileHandle file, out int errno)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                return StatCore((int)file.DangerousGetHandle(), "", AtEmptyPath, out errno);
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }

        [SupportedOSPlatform("linux")]
        private static FileStatus? StatCore(int dirFd, string path, int flags, out int errno)
        {
            byte* buffer = stackalloc byte[StatxSize];
            try
            {
                if (Statx(dirFd, path, flags, StatxBasicStats, buffer) != 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                    return null;
                }
            }
            catch (EntryPointNotFoundException)
            {
                // A C library older than glibc 2.28 has no statx wrapper.
                errno = Errno.ENOSYS;
                return null;
            }

            errno = 0;
            return new FileStatus(
                *(uint*)(buffer + StatxUidOffset),
                *(ushort*)(buffer + StatxModeOffset),
                *(ulong*)(buffer + StatxInodeOffset))
            {
                LinkCount = *(uint*)(buffer + StatxLinkCountOffset),
                Size = *(ulong*)(buffer + StatxSizeOffset),
            };
        }
    }
}
