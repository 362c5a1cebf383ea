using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>mmap(2) of a small shared file (a POSIX semaphore's sem_t), where a MemoryMappedFile would be heavy.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static unsafe partial class Memory
    {
        private const int ProtReadWrite = 0x1 | 0x2;
        private const int MapSharedFlag = 0x1;

        [LibraryImport(Libraries.Libc, EntryPoint = "mmap", SetLastError = true)]
        private static partial nint MapNative(nint address, nuint length, int protection, int flags, SafeFileHandle fd, long offset);

        [LibraryImport(Libraries.Libc, EntryPoint = "munmap", SetLastError = true)]
        internal static partial int Unmap(nint address, nuint length);

        /// <summary>Maps <paramref name="length"/> bytes of the file shared and read-write; -1 (MAP_FAILED) with the errno when it fails.</summary>
        internal static nint MapShared(SafeFileHandle file, int length, out int errno)
        {
            nint address = MapNative(0, (nuint)length, ProtReadWrite, MapSharedFlag, file, 0);
            errno = address == -1 ? Marshal.GetLastPInvokeError() : 0;
            return address;
        }
    }
}
