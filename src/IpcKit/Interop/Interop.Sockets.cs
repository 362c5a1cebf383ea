using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit;

internal static partial class Interop
{
    /// <summary>
    /// Reading a socket on a thread of its own: poll(2) then a non-blocking recv(2). .NET keeps its sockets
    /// non-blocking and emulates a blocking read through its epoll thread, which adds a thread wake-up to every read.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    internal static unsafe partial class Sockets
    {
        private const short PollIn = 0x1;

        private static readonly int DontWait = OperatingSystem.IsLinux() ? 0x40 : 0x80;

        // MSG_NOSIGNAL: a write to a socket the peer closed fails with EPIPE instead of raising SIGPIPE (Linux; macOS has
        // no such flag, and the .NET runtime ignores SIGPIPE anyway).
        private static readonly int NoSignal = OperatingSystem.IsLinux() ? 0x4000 : 0;
        private static readonly int ConnectionReset = OperatingSystem.IsLinux() ? 104 : 54;
        private const int BrokenPipe = 32;

        [StructLayout(LayoutKind.Sequential)]
        private struct PollDescriptor
        {
            public int Descriptor;
            public short Events;
            public short ReturnedEvents;
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "poll", SetLastError = true)]
        private static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

        [LibraryImport(Libraries.Libc, EntryPoint = "send", SetLastError = true)]
        private static partial nint Send(int descriptor, byte* buffer, nuint length, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
        private static partial nint Receive(int descriptor, byte* buffer, nuint length, int flags);

        /// <summary>
        /// Receives what is there into <paramref name="destination"/>, or waits up to <paramref name="waitMilliseconds"/>
        /// for something to arrive and returns -1 if nothing did. 0 means the peer's end is closed.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
        /// <exception cref="SocketException">The connection failed (reset, broken).</exception>
        internal static int ReceiveOrWait(SafeHandle socket, Span<byte> destination, int waitMilliseconds)
        {
            bool added = false;
            try
            {
                socket.DangerousAddRef(ref added);
                int fd = (int)socket.DangerousGetHandle();
                nint received;
                fixed (byte* buffer = destination)
                {
                    received = Receive(fd, buffer, (nuint)destination.Length, DontWait);
                }

                if (received >= 0)
                {
                    return (int)received;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EAGAIN || errno == Errno.EINTR)
                {
                    var descriptor = new PollDescriptor { Descriptor = fd, Events = PollIn };
                    if (Poll(&descriptor, 1, waitMilliseconds) < 0 && Marshal.GetLastPInvokeError() != Errno.EINTR)
                    {
                        throw Failure(Marshal.GetLastPInvokeError());
                    }

                    return -1;
                }

                throw Failure(errno);
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }
        }

        /// <summary>
        /// Sends what fits into the socket's buffer now, without waiting: the byte count, or -1 when nothing fits
        /// (EAGAIN). The caller falls back to .NET's asynchronous send for the rest, which waits for room.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
        /// <exception cref="SocketException">The connection failed (reset, broken pipe).</exception>
        internal static int TrySend(SafeHandle socket, ReadOnlySpan<byte> source)
        {
            bool added = false;
            try
            {
                socket.DangerousAddRef(ref added);
                int fd = (int)socket.DangerousGetHandle();
                while (true)
                {
                    nint sent;
                    fixed (byte* buffer = source)
                    {
                        sent = Send(fd, buffer, (nuint)source.Length, DontWait | NoSignal);
                    }

                    if (sent >= 0)
                    {
                        return (int)sent;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    if (errno == Errno.EAGAIN)
                    {
                        return -1;
                    }

                    throw Failure(errno);
                }
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }
        }

        /// <summary>Whether the socket has something to read (or has ended or failed), waiting up to <paramref name="waitMilliseconds"/>.</summary>
        /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
        internal static bool WaitReadable(SafeHandle socket, int waitMilliseconds)
        {
            bool added = false;
            try
            {
                socket.DangerousAddRef(ref added);
                var descriptor = new PollDescriptor { Descriptor = (int)socket.DangerousGetHandle(), Events = PollIn };
                int ready = Poll(&descriptor, 1, waitMilliseconds);
                if (ready < 0 && Marshal.GetLastPInvokeError() != Errno.EINTR)
                {
                    throw Failure(Marshal.GetLastPInvokeError());
                }

                return ready > 0;
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }
        }

        private static SocketException Failure(int errno) =>
            errno == ConnectionReset ? new SocketException((int)SocketError.ConnectionReset)
            : errno == BrokenPipe ? new SocketException((int)SocketError.Shutdown)
            : new SocketException((int)SocketError.SocketError, $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }
}
