using System.Net.Sockets;

namespace IpcKit.Pipes;

// One accepted or connected byte stream. Every error the OS reports on a live connection leaves this class as an
// IpcPeerGoneException (PeerDied for a reset or broken pipe, Disconnected for anything else), so no SocketException or
// IOException ever reaches a caller of the channel (found by killing servers under `ipckit pipe send`: a raw
// "Broken pipe" escaped). Only ObjectDisposedException (this process closed the transport) and cancellation pass.
//
// On a Unix socket the fast paths bypass .NET's socket engine: a write is first tried with a non-blocking send(2), a
// blocking reader sleeps in poll(2) and reads with recv(2). .NET registers a socket with its epoll thread only when an
// operation of its own has to wait, so a connection whose reads and writes never wait in .NET costs no epoll wake-ups.

/// <summary>One accepted or connected byte stream, with what the OS says about the process at the other end.</summary>
internal sealed class PipeTransport : IOutputSink, IDisposable
{
    // How often a reader blocked in poll(2) looks up from its wait (closing also wakes it: the read fails).
    internal const int PollMilliseconds = 250;

    private readonly Socket? _socket;
    private readonly Stream _stream;
    private int _disposed;

    internal PipeTransport(Stream stream, Socket? socket, int? peerProcessId, uint? peerUserId)
    {
        _stream = stream;
        _socket = socket;
        PeerProcessId = peerProcessId;
        PeerUserId = peerUserId;
    }

    /// <summary>The peer's process id from the kernel (SO_PEERCRED on Linux), or null where the OS does not say.</summary>
    internal int? PeerProcessId { get; }

    /// <summary>The peer's effective user id from the kernel, or null where the OS does not say.</summary>
    internal uint? PeerUserId { get; }

    /// <summary>Whether this is a socket (a real connection), as opposed to a stream (a Windows pipe, a test's memory stream).</summary>
    internal bool IsSocket => _socket is not null;

    /// <summary>Whether <see cref="Receive"/> can sleep in poll(2) (a Unix socket); otherwise it blocks in the stream's read.</summary>
    internal bool CanPoll => _socket is not null && !OperatingSystem.IsWindows();

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

    /// <summary>Reads what is there, waiting asynchronously for at least one byte; 0 at the end of the stream.</summary>
    /// <exception cref="IpcPeerGoneException">The connection failed.</exception>
    internal async ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            return _socket is { } socket
                ? await socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken).ConfigureAwait(false)
                : await _stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsTransportError(exception))
        {
            throw PeerGone(exception);
        }
    }

    /// <summary>
    /// Reads on the calling thread: what is there, or waits up to <paramref name="waitMilliseconds"/> for something and
    /// returns -1 if nothing came (a stream without poll blocks until something comes). 0 at the end of the stream.
    /// </summary>
    /// <exception cref="IpcPeerGoneException">The connection failed.</exception>
    /// <exception cref="ObjectDisposedException">This process closed the transport.</exception>
    internal int Receive(Span<byte> destination, int waitMilliseconds)
    {
        try
        {
            if (_socket is { } socket && !OperatingSystem.IsWindows())
            {
                return Interop.Sockets.ReceiveOrWait(socket.SafeHandle, destination, waitMilliseconds);
            }

            return _stream.Read(destination);
        }
        catch (Exception exception) when (IsTransportError(exception))
        {
            throw PeerGone(exception);
        }
    }

    /// <summary>Writes all of <paramref name="segments"/>, in order; one gathering send for several.</summary>
    /// <exception cref="IpcPeerGoneException">The connection failed.</exception>
    /// <exception cref="ObjectDisposedException">This process closed the transport.</exception>
    public ValueTask WriteAsync(List<ArraySegment<byte>> segments)
    {
        try
        {
            if (segments.Count == 1 && _socket is { } socket && !OperatingSystem.IsWindows())
            {
                ArraySegment<byte> only = segments[0];
                int sent = Interop.Sockets.TrySend(socket.SafeHandle, only.AsSpan());
                if (sent == only.Count)
                {
                    return default;
                }

                return SendRestAsync(only.AsMemory(Math.Max(sent, 0)));
            }

            return WriteSlowAsync(segments);
        }
        catch (Exception exception) when (IsTransportError(exception))
        {
            return ValueTask.FromException(PeerGone(exception));
        }
    }

    /// <summary>Sends a small frame now if the socket takes all of it (the refusal of a full server); false otherwise.</summary>
    internal bool TrySendNow(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return _socket is { } socket && !OperatingSystem.IsWindows() && Interop.Sockets.TrySend(socket.SafeHandle, bytes) == bytes.Length;
        }
        catch (Exception exception) when (IsTransportError(exception) || exception is ObjectDisposedException)
        {
            return false;
        }
    }

    private async ValueTask SendRestAsync(ReadOnlyMemory<byte> rest)
    {
        try
        {
            while (!rest.IsEmpty)
            {
                int sent = await _socket!.SendAsync(rest, SocketFlags.None).ConfigureAwait(false);
                rest = rest[sent..];
            }
        }
        catch (Exception exception) when (IsTransportError(exception))
        {
            throw PeerGone(exception);
        }
    }

    private async ValueTask WriteSlowAsync(List<ArraySegment<byte>> segments)
    {
        try
        {
            if (_socket is not { } socket)
            {
                foreach (ArraySegment<byte> segment in segments)
                {
                    await _stream.WriteAsync(segment.AsMemory()).ConfigureAwait(false);
                }

                return;
            }

            long total = 0;
            foreach (ArraySegment<byte> segment in segments)
            {
                total += segment.Count;
            }

            int sent = await socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
            if (sent < total)
            {
                // A stream socket's send completes only when everything is sent; should one ever stop short, finish plainly.
                long skip = sent;
                foreach (ArraySegment<byte> segment in segments)
                {
                    if (skip >= segment.Count)
                    {
                        skip -= segment.Count;
                        continue;
                    }

                    ReadOnlyMemory<byte> rest = segment.AsMemory((int)skip);
                    skip = 0;
                    while (!rest.IsEmpty)
                    {
                        rest = rest[await socket.SendAsync(rest, SocketFlags.None).ConfigureAwait(false)..];
                    }
                }
            }
        }
        catch (Exception exception) when (IsTransportError(exception))
        {
            throw PeerGone(exception);
        }
    }

    /// <summary>An OS error on a live connection, as opposed to this process closing it or a cancellation.</summary>
    internal static bool IsTransportError(Exception exception) => exception is SocketException or IOException && exception is not IpcException;

    /// <summary>
    /// The OS error as the peer's departure: a reset, an abort or a broken pipe means its end vanished (its process
    /// exited, crashed or was killed); other socket errors say only that the connection broke.
    /// </summary>
    internal static IpcPeerGoneException PeerGone(Exception exception)
    {
        SocketError? error = (exception as SocketException ?? exception.InnerException as SocketException)?.SocketErrorCode;
        bool vanished = error is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
            || (exception is IOException && error is null);
        return new IpcPeerGoneException(
            vanished
                ? $"The peer's end vanished ({exception.Message}): its process exited, crashed or was killed."
                : $"The connection broke: {exception.Message}",
            vanished ? IpcCloseReason.PeerDied : IpcCloseReason.Disconnected,
            exception);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            // Wakes a reader sleeping in poll(2) at once (the stream ends), which closing the descriptor would not do.
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
        }

        _stream.Dispose();
        _socket?.Dispose();
    }
}
