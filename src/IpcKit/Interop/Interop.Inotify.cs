using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>inotify(7): close events on a file, which the kernel also raises when a process that had it open dies.</summary>
    [SupportedOSPlatform("linux")]
    internal static unsafe partial class Inotify
    {
        /// <summary>IN_CLOSE_WRITE | IN_CLOSE_NOWRITE: a descriptor of the file was closed (by close(2) or by the process's death).</summary>
        internal const uint CloseEvents = 0x8 | 0x10;

        /// <summary>IN_IGNORED: the watch is gone (removed, or the file was deleted).</summary>
        internal const uint Ignored = 0x8000;

        /// <summary>struct inotify_event without its name: wd, mask, cookie, len.</summary>
        internal const int EventHeaderSize = 16;

        private const int CloseOnExec = 0x80000;

        [LibraryImport(Libraries.Libc, EntryPoint = "inotify_init1", SetLastError = true)]
        private static partial int InitNative(int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        private static partial int AddWatchNative(SafeFileHandle inotify, string path, uint mask);

        [LibraryImport(Libraries.Libc, EntryPoint = "inotify_rm_watch", SetLastError = true)]
        internal static partial int RemoveWatch(SafeFileHandle inotify, int watch);

        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        private static partial nint ReadNative(SafeFileHandle fd, byte* buffer, nint count);

        /// <summary>A new inotify instance (close-on-exec); null with the errno when the user's limit is reached.</summary>
        internal static SafeFileHandle? Create(out int errno)
        {
            int fd = InitNative(CloseOnExec);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
        }

        /// <summary>Watches the file an open descriptor refers to (through /proc/self/fd, so the inode we hold, not whatever the name is now).</summary>
        internal static int AddWatch(SafeFileHandle inotify, SafeFileHandle file, uint mask)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                string self = "/proc/self/fd/" + file.DangerousGetHandle().ToString(System.Globalization.CultureInfo.InvariantCulture);
                return AddWatchNative(inotify, self, mask);
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }

        /// <summary>Blocks until events arrive; the number of bytes read, or -1 with the errno.</summary>
        internal static int Read(SafeFileHandle inotify, Span<byte> buffer, out int errno)
        {
            fixed (byte* pointer = buffer)
            {
                nint read = ReadNative(inotify, pointer, buffer.Length);
                errno = read < 0 ? Marshal.GetLastPInvokeError() : 0;
                return (int)read;
            }
        }
    }
}
