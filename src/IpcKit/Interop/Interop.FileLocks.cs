using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// Linux open-file-description locks (fcntl F_OFD_SETLK): byte-range locks owned by an open file, not a process,
    /// so two opens in one process conflict like two processes do, and the kernel drops the lock when the file is
    /// closed or the process dies, even by SIGKILL. They also conflict with classic fcntl/lockf locks of other
    /// processes, which is what lets a C program or a script interoperate with a lock file.
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static partial class FileLocks
    {
        private const int F_OFD_GETLK = 36;
        private const int F_OFD_SETLK = 37;
        private const short F_RDLCK = 0;
        private const short F_WRLCK = 1;
        private const short F_UNLCK = 2;
        private const short SEEK_SET = 0;

        /// <summary>struct flock on 64-bit Linux (x86-64 and arm64): 32 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct Flock
        {
            internal short Type;
            internal short Whence;
            internal long Start;
            internal long Length;
            internal int Pid;
        }

        // fcntl is variadic; its third argument is a pointer, which x86-64 and Linux arm64 pass exactly like a fixed one.
        [LibraryImport(Libraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static unsafe partial int Fcntl(SafeHandle fd, int command, Flock* lockDescription);

        /// <summary>Takes an exclusive lock on one byte without waiting; false if another open file holds it.</summary>
        internal static bool TryLock(SafeHandle file, long offset) => TryLock(file, offset, shared: false);

        /// <summary>Takes (or converts to) an exclusive or a shared lock on one byte without waiting; false if another open file's lock conflicts.</summary>
        internal static unsafe bool TryLock(SafeHandle file, long offset, bool shared)
        {
            var description = new Flock { Type = shared ? F_RDLCK : F_WRLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            if (Fcntl(file, F_OFD_SETLK, &description) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno == Errno.EAGAIN || errno == Errno.EACCES ? false : throw LockFailed(errno);
        }

        /// <summary>Releases a lock taken with <see cref="TryLock(SafeHandle, long, bool)"/>.</summary>
        internal static unsafe void Unlock(SafeHandle file, long offset)
        {
            var description = new Flock { Type = F_UNLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            Fcntl(file, F_OFD_SETLK, &description);
        }

        /// <summary>Whether another open file description holds a lock on the byte at <paramref name="offset"/>.</summary>
        internal static bool IsLockedByOther(SafeHandle file, long offset) => FindConflict(file, offset, out _);

        /// <summary>
        /// Whether another open file holds a lock on the byte that an exclusive lock would conflict with; when it does,
        /// <paramref name="pid"/> is the holder's pid for a classic fcntl/lockf lock and -1 for an open-file-description lock
        /// (the kernel does not say which process holds those).
        /// </summary>
        internal static unsafe bool FindConflict(SafeHandle file, long offset, out int pid)
        {
            var description = new Flock { Type = F_WRLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            if (Fcntl(file, F_OFD_GETLK, &description) != 0)
            {
                throw LockFailed(Marshal.GetLastPInvokeError());
            }

            pid = description.Pid;
            return description.Type != F_UNLCK;
        }

        private static IpcException LockFailed(int errno) =>
            new($"fcntl lock operation failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
    }
}
