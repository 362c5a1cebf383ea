using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// What the ring needs beyond .NET's file API on Linux: opening a name without following a symbolic link (a link
    /// planted at a ring's name must be refused, not followed to whatever it points at), and reserving a file's pages
    /// up front (a ring file on a full tmpfs must fail at create, not with SIGBUS at the first touch of a page).
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static partial class RingFiles
    {
        private const int ReadWrite = 2;
        private const int CloseOnExec = 0x80000;
        private const int NonBlocking = 0x800;

        // O_NOFOLLOW is 0400000 on x86 and most architectures, 0100000 on arm and arm64.
        private static readonly int s_noFollow =
            RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x8000 : 0x20000;

        /// <summary>ELOOP: what open(2) with O_NOFOLLOW reports for a symbolic link.</summary>
        internal const int SymbolicLinkErrno = 40;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int Open(string path, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "posix_fallocate")]
        private static partial int PosixFallocate(SafeFileHandle fd, long offset, long length);

        /// <summary>
        /// Opens an existing file for reading and writing without following a final symbolic link and without blocking
        /// on a FIFO; an invalid handle with the errno when it fails (ELOOP for a link).
        /// </summary>
        internal static SafeFileHandle OpenNoFollow(string path, out int errno)
        {
            int fd = Open(path, ReadWrite | CloseOnExec | NonBlocking | s_noFollow);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        /// <summary>Allocates the pages of bytes [0, <paramref name="length"/>) and extends the file to it; 0 or the errno.</summary>
        internal static int Reserve(SafeFileHandle file, long length) => PosixFallocate(file, 0, length);
    }
}
