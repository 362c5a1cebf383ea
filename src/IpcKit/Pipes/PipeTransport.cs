using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace IpcKit.Pipes;

/// <summary>One accepted or connected byte stream, with what the OS says about the process at the other end.</summary>
internal sealed class PipeTransport : IDisposable
{
    private readonly Socket? _socket;
    private List<ArraySegment<byte>>? _gather;

    // How often a reader blocked in poll(2) checks that its connection is still open (closing also wakes it).
    private const int PollMilliseconds = 250;

    internal PipeTransport(Stream stream, Socket? socket, int? peerProcessId, uint? peerUserId)
    {
        Stream = stream;
        _socket = socket;
        PeerProcessId = peerProcessId;
        PeerUserId = peerUserId;
    }

    internal Stream Stream { get; }

    /// <summary>The peer's process id from the kernel (SO_PEERCRED on Linux), or null where the OS does not say.</summary>
    internal int? PeerProcessId { get; }

    /// <summary>The peer's effective user id from the kernel, or null where the OS does not say.</summary>
    internal uint? PeerUserId { get; }

    /// <summary>
    /// Whether bytes from the peer wait unread in the kernel. The liveness check asks before declaring a silent peer gone,
    /// so a process of ours that was too busy to read is not mistaken for a peer that stopped writing.
    /// </summary>
    internal bool HasUnreadInput
    {
        get
        {
            try
            {
                return _socket is { } socket && socket.Available > 0;
            }
            catch (Exception exception) when (exception is ObjectDisposedException or SocketException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Writes all of <paramref name="buffer"/>. On a socket, a buffer of several segments leaves in one gathering
    /// sendmsg(2) rather than one system call per segment, so a large frame costs one call, as the raw stream does.
    /// One write at a time (the connection's single writer).
    /// </summary>
    internal ValueTask WriteAsync(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            return Stream.WriteAsync(buffer.First);
        }

        if (_socket is not { } socket)
        {
            return WriteSegmentsAsync(buffer);
        }

        List<ArraySegment<byte>> gather = _gather ??= [];
        gather.Clear();
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
            {
                return WriteSegmentsAsync(buffer);
            }

            gather.Add(array);
        }

        return SendAllAsync(socket, gather, buffer);
    }

    private async ValueTask SendAllAsync(Socket socket, List<ArraySegment<byte>> gather, ReadOnlySequence<byte> buffer)
    {
        int sent = await socket.SendAsync(gather, SocketFlags.None).ConfigureAwait(false);
        if (sent < buffer.Length)
        {
            // A stream socket's send completes only when everything is sent; should one ever stop short, finish plainly.
            await WriteSegmentsAsync(buffer.Slice(sent)).ConfigureAwait(false);
        }
    }

    private async ValueTask WriteSegmentsAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            await Stream.WriteAsync(segment).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads on the calling thread, blocking until bytes arrive; 0 at the end of the stream. On a Unix socket the
    /// thread itself sleeps in poll(2), so a message wakes it directly (see <see cref="Interop.Sockets"/>).
    /// </summary>
    /// <param name="buffer">Where the bytes go.</param>
    /// <param name="offset">The first byte of <paramref name="buffer"/> to fill.</param>
    /// <param name="count">At most this many bytes are read.</param>
    /// <param name="stillOpen">Asked between waits; once false the read ends with <see cref="ObjectDisposedException"/>.</param>
    internal int Read(byte[] buffer, int offset, int count, Func<bool> stillOpen)
    {
        if (_socket is null || OperatingSystem.IsWindows())
        {
            return Stream.Read(buffer, offset, count);
        }

        while (true)
        {
            int received = Interop.Sockets.ReceiveOrWait(_socket.SafeHandle, buffer.AsSpan(offset, count), PollMilliseconds);
            if (received >= 0)
            {
                return received;
            }

            ObjectDisposedException.ThrowIf(!stillOpen(), this);
        }
    }

    /// <summary>
    /// Completes once the socket has something to read, waiting on a thread of its own rather than through .NET's
    /// socket engine. An asynchronous read that finds data completes at once, and .NET registers a socket with its epoll
    /// thread only when an operation has to wait: a connection read by <see cref="Read"/> that never waits in .NET stays
    /// unregistered, so messages do not wake the epoll thread and a thread-pool thread each for nothing.
    /// </summary>
    internal Task WaitReadableAsync(CancellationToken cancellationToken)
    {
        if (_socket is null || OperatingSystem.IsWindows())
        {
            return Task.CompletedTask;
        }

        SafeHandle handle = _socket.SafeHandle;
        if (Interop.Sockets.WaitReadable(handle, 0))
        {
            return Task.CompletedTask;
        }

        return Task.Factory.StartNew(
            () =>
            {
                while (!OperatingSystem.IsWindows() && !Interop.Sockets.WaitReadable(handle, PollMilliseconds / 5))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
            },
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    public void Dispose()
    {
        Stream.Dispose();
        _socket?.Dispose();
    }
}
