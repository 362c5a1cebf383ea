using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// Classic POSIX record locks (fcntl F_SETLK) on macOS, which has no open-file-description locks. They belong to the
    /// process, not to the open file: a second descriptor of the same file in the same process shares them, and closing
    /// any descriptor of the file drops them all. The kernel drops them when the process dies. Compiled, not tested in CI.
    /// </summary>
    [SupportedOSPlatform("macos")]
    internal static partial class RecordLocks
    {
        private const int F_GETLK = 7;
        private const int F_SETLK = 8;
        private const short F_RDLCK = 1;
        private const short F_UNLCK = 2;
        private const short F_WRLCK = 3;
        private const short SEEK_SET = 0;

        /// <summary>struct flock on macOS: offsets first, then pid, type and whence (24 bytes).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct Flock
        {
            internal long Start;
            internal long Length;
            internal int Pid;
            internal short Type;
            internal short Whence;
        }

        // fcntl(int, int, ...): x86-64 passes the variadic pointer like a fixed argument; Apple arm64 passes every variadic
        // argument on the stack, so six padding arguments fill x2-x7 and the pointer lands in the first stack slot.
        [LibraryImport(Libraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static unsafe partial int Fcntl(SafeHandle fd, int command, Flock* lockDescription);

        [LibraryImport(Libraries.Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static unsafe partial int FcntlAppleArm64(SafeHandle fd, int command, nint pad2, nint pad3, nint pad4, nint pad5, nint pad6, nint pad7, Flock* lockDescription);

        /// <summary>Takes an exclusive or shared lock on one byte without waiting; false if another process's lock conflicts.</summary>
        internal static unsafe bool TryLock(SafeHandle file, long offset, bool shared)
        {
            var description = new Flock { Type = shared ? F_RDLCK : F_WRLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            if (Call(file, F_SETLK, &description) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno == Errno.EAGAIN || errno == Errno.EACCES ? false : throw LockFailed(errno);
        }

        /// <summary>Releases a lock taken with <see cref="TryLock"/>.</summary>
        internal static unsafe void Unlock(SafeHandle file, long offset)
        {
            var description = new Flock { Type = F_UNLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            Call(file, F_SETLK, &description);
        }

        /// <summary>Whether another process holds a lock on the byte that an exclusive lock would conflict with, and its pid.</summary>
        internal static unsafe bool FindConflict(SafeHandle file, long offset, out int pid)
        {
            var description = new Flock { Type = F_WRLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
            if (Call(file, F_GETLK, &description) != 0)
            {
                throw LockFailed(Marshal.GetLastPInvokeError());
            }

            pid = description.Pid;
            return description.Type != F_UNLCK;
        }

        private static unsafe int Call(SafeHandle file, int command, Flock* description) =>
            RuntimeInformation.ProcessArchitecture == Architecture.Arm64
                ? FcntlAppleArm64(file, command, 0, 0, 0, 0, 0, 0, description)
                : Fcntl(file, command, description);

        private static IpcException LockFailed(int errno) =>
            new($"fcntl lock operation failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
    }
}
