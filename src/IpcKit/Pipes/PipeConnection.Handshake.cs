using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace IpcKit.Pipes;

// The handshake: the client sends its hello at once; the server reads it, checks magic and version, and answers with
// its own hello, or with an error frame saying why it refuses and then closes. A client that gets an error frame or a
// hello of another version fails with IpcProtocolException (telling the server why, in the second case).
public sealed partial class PipeConnection
{
    /// <summary>The client's side of the handshake; on failure the connection is closed and the error thrown.</summary>
    internal async Task ClientHandshakeAsync(CancellationToken cancellationToken)
    {
        SendHello(open: false);
        try
        {
            (FrameHeader header, byte[] body) = await ReadFirstFrameAsync(cancellationToken).ConfigureAwait(false);
            if (header.Kind == FrameKind.Close)
            {
                throw new IpcPeerGoneException("The server closed the connection during the handshake (it is stopping).", PeerGoneReason.Closed);
            }

            if (header.Kind == FrameKind.Error)
            {
                (_, string message) = PipeProtocol.ReadError(new ReadOnlySequence<byte>(body));
                throw new IpcProtocolException($"The server refused the connection: {message}");
            }

            AcceptHello(header, body);
            CheckPeerUser("server");
            MarkOpen();
            StartLoops();
        }
        catch (Exception exception)
        {
            await FailHandshakeAsync(exception).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The server's side of the handshake, then the connection's life; never throws.</summary>
    internal async Task RunServerAsync()
    {
        try
        {
            // Checked before a single byte is read or written: a process of another user sees the connection end, nothing else.
            CheckPeerUser("client");
            (FrameHeader header, byte[] body) = await ReadFirstFrameAsync(CancellationToken.None).ConfigureAwait(false);
            AcceptHello(header, body);
            SendHello(open: true);
            MarkOpen();
            StartLoops();
        }
        catch (Exception exception)
        {
            await FailHandshakeAsync(exception).ConfigureAwait(false);
        }
    }

    /// <summary>Queues our hello; with <paramref name="open"/> (the server) the connection counts as open from then on.</summary>
    private void SendHello(bool open)
    {
        Span<byte> hello = stackalloc byte[PipeProtocol.HelloSize];
        PipeProtocol.WriteHello(hello, PipeProtocol.Version, _options.MaxFrameSize, Environment.ProcessId);
        lock (_writeGate)
        {
            // One step under the write lock: no frame (a broadcast, say) can be queued between the two, and a server
            // lists the connection before its hello can reach the client, so when the client's connect returns, it is
            // on the list and broadcasts reach it. The writer runs on the pool, outside this lock. The output is empty
            // at this point, so the write cannot wait for room.
            _opened |= open;
            Observe(WriteFrameAsync(FrameKind.Hello, 0, 0, hello, urgent: false));
        }
    }

    private void AcceptHello(FrameHeader header, byte[] body)
    {
        if (header.Kind != FrameKind.Hello)
        {
            throw new IpcProtocolException($"The first frame must be a hello (kind 0); the peer sent kind {header.Kind}.");
        }

        (ushort version, int maxBody, int processId) = PipeProtocol.ReadHello(new ReadOnlySequence<byte>(body));

        // Even the error that refuses the peer stays within what it announced (empty if it announced too little).
        _peerMaxBody = Math.Max(maxBody, 0);
        if (version != PipeProtocol.Version)
        {
            throw new IpcProtocolException(
                $"Pipe protocol version mismatch: the peer speaks version {version}, this side speaks version {PipeProtocol.Version}. Use the same IpcKit protocol version on both ends.");
        }

        if (maxBody < PipeProtocol.PingSize)
        {
            // Such a peer could not even take a pong (found by fuzzing): it cannot be spoken to conformingly.
            throw new IpcProtocolException(
                $"The peer announced that it accepts bodies of at most {maxBody} bytes; the protocol needs at least {PipeProtocol.PingSize} (a ping's body).");
        }

        PeerProcessId ??= processId;
    }

    private void CheckPeerUser(string role)
    {
        uint? me = PipeEndpoint.CurrentUserId;
        if (_options.CurrentUserOnly && _transport.PeerUserId is uint peer && me is uint self && peer != self)
        {
            throw new UnauthorizedAccessException(
                $"The {role} process{(PeerProcessId is int pid ? $" {pid}" : "")} runs as user {peer}, not as this user ({self}); refused because CurrentUserOnly is set.");
        }
    }

    private async Task<(FrameHeader Header, byte[] Body)> ReadFirstFrameAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                if (_options.DedicatedReceiveThread)
                {
                    // Keeps the socket out of .NET's epoll set: see PipeTransport.WaitReadableAsync.
                    await _transport.WaitReadableAsync(timeout.Token).ConfigureAwait(false);
                }

                result = await _input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IpcPeerGoneException(
                    $"The peer did not complete the handshake within {_options.HandshakeTimeout.TotalMilliseconds} ms (HandshakeTimeout).",
                    PeerGoneReason.Unresponsive);
            }
            catch (Exception exception) when (exception is IOException or SocketException && exception is not IpcException)
            {
                // A server killed with our hello unread resets the connection: it is gone, as at end of stream, and a
                // client connecting or reconnecting tries again (found by the chaos test: the reset made a client give up).
                throw new IpcPeerGoneException(
                    $"The peer's end vanished during the handshake ({exception.Message}): its process exited, crashed or was killed.",
                    PeerGoneReason.Died,
                    exception);
            }

            ReadOnlySequence<byte> buffer = result.Buffer;

            // Hello and error bodies are small: a peer cannot make the handshake buffer more than this.
            if (FrameHeader.TryRead(ref buffer, PipeProtocol.ControlBodyLimit, out FrameHeader header, out ReadOnlySequence<byte> body))
            {
                byte[] bytes = body.ToArray();
                _input.AdvanceTo(buffer.Start);
                return (header, bytes);
            }

            if (result.IsCompleted)
            {
                throw buffer.IsEmpty
                    ? new IpcPeerGoneException("The peer closed the connection before the handshake.", PeerGoneReason.Closed)
                    : new IpcProtocolException($"The peer closed the connection in the middle of its first frame ({buffer.Length} bytes).");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private Task<PipeCloseInfo> FailHandshakeAsync(Exception exception)
    {
        switch (exception)
        {
            case IpcProtocolException:
                Close(PipeCloseReason.ProtocolViolation, exception, FrameKind.Error, drain: true);
                break;
            case UnauthorizedAccessException:
                // Not a word to a process of another user, not even why (which would tell it our user id).
                Close(PipeCloseReason.Rejected, exception, goodbye: null, drain: false);
                break;
            case IpcPeerGoneException gone:
                Close(ReasonFor(gone.Reason), exception, goodbye: null, drain: false);
                break;
            case OperationCanceledException:
                Close(PipeCloseReason.Local, exception, FrameKind.Close, drain: false);
                break;
            default:
                CloseForTransportError(exception);
                break;
        }

        return Completion;
    }

    private static PipeCloseReason ReasonFor(PeerGoneReason reason) => reason switch
    {
        PeerGoneReason.Closed => PipeCloseReason.PeerClosed,
        PeerGoneReason.Died => PipeCloseReason.PeerDied,
        PeerGoneReason.Unresponsive => PipeCloseReason.PeerUnresponsive,
        _ => PipeCloseReason.Disconnected,
    };
}
