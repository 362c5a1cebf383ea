namespace IpcKit.Pipes;

// The handshake: the client sends its hello at once; the server reads it, checks magic and version, and answers with
// its own hello, or with an error frame saying why it refuses and then closes. A client that gets an error frame or a
// hello of another version fails with IpcProtocolException (telling the server why, in the second case); a server at
// its connection limit answers with a ServerFull error instead, which a connecting client waits out like a missing
// server. Before a single byte is read or written, each side checks the peer's user as the kernel reports it: a
// process of another user sees the connection end and nothing else.
//
// The first frame is read by the receive loop itself (on its own thread in DedicatedThread mode, which waits in
// poll(2) so .NET never registers the socket with its epoll thread), so the bytes that follow the hello are already in
// the loop's buffer. A first frame may have at most 4096 bytes of body, whatever MaxFrameSize says.
public sealed partial class PipeConnection
{
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PipeDeadline _handshakeDeadline;
    private CancellationToken _handshakeCancellation;

    /// <summary>Completes once the connection is open; fails with why not (the connection is closed by then).</summary>
    internal Task Handshake => _handshake.Task;

    /// <summary>
    /// Starts the connection: checks the peer's user, sends the client's hello and starts the receive loop, which reads
    /// the peer's first frame within <paramref name="deadline"/>. Never throws; see <see cref="Handshake"/>.
    /// </summary>
    internal void Start(PipeDeadline deadline, CancellationToken cancellationToken)
    {
        _handshakeDeadline = deadline;
        _handshakeCancellation = cancellationToken;
        try
        {
            CheckPeerUser();
            if (!IsServerSide)
            {
                SendHello();
            }
        }
        catch (Exception exception)
        {
            FailHandshake(exception);
            return;
        }

        StartReader(generation: 0, buffer: null, start: 0, end: 0);
    }

    /// <summary>The peer's first frame, on the receive loop: a hello (or, to a client, a refusal), then the connection is open.</summary>
    private void OnFirstFrame(FrameHeader header, ReadOnlyMemory<byte> body)
    {
        if (!IsServerSide)
        {
            if (header.Kind == FrameKind.Close)
            {
                throw new IpcPeerGoneException("The server closed the connection during the handshake (it is stopping).", IpcCloseReason.PeerClosed);
            }

            if (header.Kind == FrameKind.Error)
            {
                (string type, string message) = PipeProtocol.ReadError(body);
                if (type == PipeProtocol.ServerFullType)
                {
                    throw new PipeServerFullException($"The server refused the connection: {message}");
                }

                throw new IpcProtocolException($"The server refused the connection: {message}");
            }
        }

        AcceptHello(header, body.Span);
        if (IsServerSide)
        {
            SendHello();
        }

        Open();
    }

    /// <summary>
    /// Queues our hello. A server counts as open from the moment its hello is queued, in one step under the output's
    /// lock: no frame (a broadcast, say) can be queued before it, and when the client's connect returns the server
    /// already lists the connection, so broadcasts reach it.
    /// </summary>
    private void SendHello()
    {
        Span<byte> hello = stackalloc byte[PipeProtocol.HelloSize];
        PipeProtocol.WriteHello(hello, new PipeProtocol.Hello(
            PipeProtocol.Version, _options.MaxFrameSize, Environment.ProcessId, _options.ReceiveBufferLimit, _options.MaxConcurrentRequestsPerConnection));
        Output.WriteFirst(FrameKind.Hello, hello, IsServerSide ? () => _opened = true : null);
    }

    private void AcceptHello(FrameHeader header, ReadOnlySpan<byte> body)
    {
        if (header.Kind != FrameKind.Hello)
        {
            throw new IpcProtocolException($"The first frame must be a hello (kind 0); the peer sent kind {header.Kind}.");
        }

        PipeProtocol.Hello hello = PipeProtocol.ReadHello(body);

        // Even the error that refuses the peer stays within what it announced (empty if it announced too little).
        Volatile.Write(ref _peerMaxBody, Math.Max(hello.MaxBodyLength, 0));
        if (hello.Version != PipeProtocol.Version)
        {
            throw new IpcProtocolException(
                $"Pipe protocol version mismatch: the peer speaks version {hello.Version}, this side speaks version {PipeProtocol.Version}. Use the same IpcKit protocol version on both ends.");
        }

        if (hello.MaxBodyLength < PipeProtocol.PingSize)
        {
            // Such a peer could not even take a pong (found by fuzzing): it cannot be spoken to conformingly.
            throw new IpcProtocolException(
                $"The peer announced that it accepts bodies of at most {hello.MaxBodyLength} bytes; the protocol needs at least {PipeProtocol.PingSize} (a ping's body).");
        }

        if (hello.ReceiveWindow < 1 || hello.MaxRequests < 1)
        {
            throw new IpcProtocolException(
                $"The peer announced a receive window of {hello.ReceiveWindow} bytes and a limit of {hello.MaxRequests} requests; both must be at least 1.");
        }

        Output.SetWindow(hello.ReceiveWindow);
        _requests.Limit = hello.MaxRequests;

        // The kernel's answer wins: a peer can write any process id into its hello.
        PeerProcessId ??= hello.ProcessId;
    }

    /// <summary>Counts the connection open, tells the application, starts the timer; before the first frame is dispatched.</summary>
    private void Open()
    {
        _opened = true;
        PipeMetrics.Connections.Add(1);
        PipeLog.ConnectionOpened(_logger, _peer?.Name ?? "", Id, PeerProcessId, IsServerSide ? "server" : "client");

        // Before the first frame is dispatched, so the application can attach its per-connection State first.
        _peer?.OnOpened(this);
        StartTimer();
        _handshake.TrySetResult();
    }

    private void CheckPeerUser()
    {
        if (!_options.CurrentUserOnly || OperatingSystem.IsWindows())
        {
            // Windows: the pipe's ACL admits only the current user.
            return;
        }

        uint self = Interop.Files.GetEffectiveUserId();
        string role = IsServerSide ? "client" : "server";
        if (_transport.PeerUserId is not uint peer)
        {
            if (OperatingSystem.IsLinux() && _transport.IsSocket)
            {
                // Linux always answers SO_PEERCRED on a Unix socket: no answer is a failure, and a failure must not let anyone in.
                throw new UnauthorizedAccessException(
                    $"The kernel did not report the {role} process's user (SO_PEERCRED); refused because CurrentUserOnly is set.");
            }

            return;
        }

        if (peer != self)
        {
            throw new UnauthorizedAccessException(
                $"The {role} process{(PeerProcessId is int pid ? $" {pid}" : "")} runs as {OwnerCheck.DescribeUser(peer)}, not as this user ({OwnerCheck.DescribeUser(self)}); refused because CurrentUserOnly is set.");
        }
    }

    private TimeoutException HandshakeTimedOut() =>
        new($"The peer did not complete the handshake within {_handshakeDeadline} (HandshakeTimeout, or what was left of the connect timeout).");

    private void FailHandshake(Exception exception)
    {
        // First, so the caller of connect gets this exception rather than the close's wrapping of it.
        if (_handshake.TrySetException(exception))
        {
            // A server's handshake has nobody awaiting it; its outcome is in CloseInfo and ConnectionClosed.
            _ = _handshake.Task.Exception;
        }

        switch (exception)
        {
            case IpcProtocolException:
                Close(IpcCloseReason.ProtocolViolation, exception, FrameKind.Error, drain: true);
                break;
            case UnauthorizedAccessException or PipeServerFullException:
                // Not a word to a process of another user, not even why (which would tell it our user id).
                Close(IpcCloseReason.Rejected, exception, goodbye: null, drain: false);
                break;
            case IpcPeerGoneException gone:
                Close(gone.Reason, exception, goodbye: null, drain: false);
                break;
            case TimeoutException:
                Close(IpcCloseReason.PeerUnresponsive, new IpcPeerGoneException(exception.Message, IpcCloseReason.PeerUnresponsive, exception), goodbye: null, drain: false);
                break;
            case OperationCanceledException or ObjectDisposedException:
                Close(IpcCloseReason.Local, exception, FrameKind.Close, drain: false);
                break;
            default:
                Close(IpcCloseReason.Disconnected, new IpcPeerGoneException($"The connection broke during the handshake: {exception.Message}", IpcCloseReason.Disconnected, exception), goodbye: null, drain: false);
                break;
        }
    }
}

/// <summary>A server answered the hello with "at its connection limit": a connecting client waits, as for a missing server.</summary>
internal sealed class PipeServerFullException(string message) : IpcException(message);
