using System.Buffers;
using System.Diagnostics;
using IpcKit.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Pipes;

/// <summary>
/// One connection between a <see cref="PipeClient"/> and a <see cref="PipeServer"/>: typed and raw one-way messages and
/// requests in both directions, received messages as an async stream, heartbeats, flow control, and a completion that
/// says why it ended. Safe to use from many threads at once.
/// </summary>
/// <remarks>
/// A connection composes four objects: the transport (the socket), the output writer (<c>PipeOutput</c>: framing, the
/// single writer, batching, waiting for room, the goodbye), the pending-request table (<c>PendingRequests</c>:
/// correlation, slots, expiry, cancellation) and the dispatcher (<c>PipeDispatcher</c>: handlers, the inbox, the
/// unhandled-message policy, this side's flow control). The connection itself runs the handshake, the receive loop
/// (socket to frames to those objects), a timer (heartbeats, liveness, request deadlines, the receive watchdog) and the
/// close. Nothing one connection does waits for another.
/// </remarks>
public sealed partial class PipeConnection : IAsyncDisposable
{
    private const int MaxTickMilliseconds = 50;

    private static long s_nextId;

    private readonly PipeTransport _transport;
    private readonly PipeChannelOptions _options;
    private readonly PipePeer? _peer;
    private readonly ILogger _logger;
    private readonly PendingRequests _requests = new();
    private readonly PipeDispatcher _dispatcher;
    private readonly PipeInbox _inbox;
    private readonly PipeCounters _counters = new();
    private readonly long _heartbeatMilliseconds;
    private readonly long _peerTimeoutMilliseconds;
    private int _peerMaxBody = PipeProtocol.ControlBodyLimit;
    private volatile bool _opened;

    internal PipeConnection(PipeTransport transport, PipeChannelOptions options, PipePeer? peer, bool isServerSide, PipeInbox? inbox = null, bool dedicatedThread = false)
    {
        _transport = transport;
        _options = options;
        _peer = peer;
        _logger = peer?.Logger ?? NullLogger.Instance;
        IsServerSide = isServerSide;
        UsesDedicatedThread = dedicatedThread;
        Id = Interlocked.Increment(ref s_nextId);

        // Kept apart from the source, which is disposed when the connection ends: handlers still ask the token then.
        _closedToken = _closed.Token;
        PeerProcessId = transport.PeerProcessId;
        Output = new PipeOutput(transport, options.SendBufferLimit, _counters) { WriteFailed = OnWriteFailed };
        _inbox = inbox ?? new PipeInbox(options.UnhandledMessages);
        _dispatcher = new PipeDispatcher(this, peer, _inbox, ownsInbox: inbox is null, _counters, options);
        _heartbeatMilliseconds = (long)options.HeartbeatInterval.TotalMilliseconds;
        _peerTimeoutMilliseconds = (long)options.PeerTimeout.TotalMilliseconds;
    }

    /// <summary>A number that identifies the connection within this process, for logs.</summary>
    public long Id { get; }

    /// <summary>The peer's process id: from the kernel where it says (Linux), else as the peer announced it in its hello.</summary>
    public int? PeerProcessId { get; private set; }

    /// <summary>The peer's effective user id as the kernel reports it (SO_PEERCRED on Linux), or null where the OS does not say.</summary>
    public uint? PeerUserId => _transport.PeerUserId;

    /// <summary>Whether this is the server's end of the connection.</summary>
    public bool IsServerSide { get; }

    /// <summary>Whatever the application wants to keep with the connection (for example per-client state in a server).</summary>
    public object? State { get; set; }

    /// <summary>Whether the connection is still open.</summary>
    public bool IsConnected => Volatile.Read(ref _closeInfo) is null;

    /// <summary>Why the connection ended, or null while it is open.</summary>
    public PipeCloseInfo? CloseInfo => Volatile.Read(ref _closeInfo);

    /// <summary>Completes (never faults) when the connection has ended and its resources are released, with the reason.</summary>
    public Task<PipeCloseInfo> Completion => _completion.Task;

    /// <summary>Cancelled when the connection ends; handlers receive it as their cancellation token.</summary>
    public CancellationToken ClosedToken => _closedToken;

    /// <summary>The largest body the peer accepts (it announced it in its hello); larger messages are refused before sending.</summary>
    public int PeerMaxFrameSize => Volatile.Read(ref _peerMaxBody);

    /// <summary>What this connection has sent, received and dropped so far.</summary>
    public PipeStatistics Statistics => _counters.Snapshot();

    /// <summary>Whether the handshake completed and the connection has not ended: only then may anyone else send on it.</summary>
    internal bool IsOpen => _opened && IsConnected;

    /// <summary>Whether the connection can still send: open, and no write has failed (a failed write is being classified).</summary>
    internal bool IsUsable => IsConnected && !Output.IsTerminal;

    /// <summary>Whether this connection reads on a thread of its own.</summary>
    internal bool UsesDedicatedThread { get; }

    internal PipeOutput Output { get; }

    internal PendingRequests Requests => _requests;

    internal PipeDispatcher Dispatcher => _dispatcher;

    /// <inheritdoc />
    public override string ToString() =>
        $"pipe connection #{Id}{(PeerProcessId is int pid ? $" with process {pid}" : "")}{(CloseInfo is { } info ? $" (closed: {info.Reason})" : "")}";

    /// <summary>Sends a one-way message; completes when it is queued, waiting only while the peer lags (flow control) or does not read.</summary>
    /// <param name="message">The message, a MessagePack contract.</param>
    /// <param name="timeout">How long to wait for room; null uses <see cref="PipeChannelOptions.DefaultTimeout"/>. Nothing is sent when it passes.</param>
    /// <param name="cancellationToken">Abandons the wait; nothing is sent then.</param>
    /// <exception cref="ArgumentException">The serialized message is larger than the peer accepts (<see cref="PeerMaxFrameSize"/>).</exception>
    /// <exception cref="TimeoutException">No room within the timeout: the peer does not consume its messages.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended.</exception>
    public ValueTask SendAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ArrayBufferWriter<byte> body = SerializationBuffer.Serialize(message);
        try
        {
            CheckSize(body.WrittenCount, MessageTypeId.Of<T>(), nameof(message));
            return Send(FrameKind.Message, MessageTypeId.Of<T>(), body.WrittenSpan, default, PipeRoom.Message, timeout, cancellationToken);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    /// <summary>Sends a one-way message of raw bytes with <paramref name="typeId"/> (default 0, raw).</summary>
    /// <param name="body">The bytes; do not change them until the returned task completes.</param>
    /// <param name="typeId">The type id the peer sees (<see cref="MessageTypeId.Untyped"/> for plain bytes).</param>
    /// <param name="timeout">How long to wait for room; null uses <see cref="PipeChannelOptions.DefaultTimeout"/>. Nothing is sent when it passes.</param>
    /// <param name="cancellationToken">Abandons the wait; nothing is sent then.</param>
    /// <exception cref="ArgumentException">The body is larger than the peer accepts (<see cref="PeerMaxFrameSize"/>).</exception>
    /// <exception cref="TimeoutException">No room within the timeout: the peer does not consume its messages.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended.</exception>
    public ValueTask SendRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        CheckSize(body.Length, typeId, nameof(body));
        return Send(FrameKind.Message, typeId, body.Span, body, PipeRoom.Message, timeout, cancellationToken);
    }

    /// <summary>Sends a request and waits for its answer, a <typeparamref name="TResponse"/>.</summary>
    /// <param name="request">The request; its type selects the peer's handler.</param>
    /// <param name="timeout">How long to wait for everything (a request slot, room, the answer); null uses <see cref="PipeChannelOptions.DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait (a late answer is then ignored).</param>
    /// <exception cref="ArgumentException">The serialized request is larger than the peer accepts.</exception>
    /// <exception cref="TimeoutException">No answer within the timeout.</exception>
    /// <exception cref="PipeRemoteException">The handler threw, or the peer has no handler for the request type.</exception>
    /// <exception cref="IpcProtocolException">The answer is not a <typeparamref name="TResponse"/> (this call fails; the connection goes on).</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended before the answer came.</exception>
    public ValueTask<TResponse> RequestAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResponse>(cancellationToken);
        }

        ArrayBufferWriter<byte> body = SerializationBuffer.Serialize(request);
        try
        {
            int typeId = MessageTypeId.Of<TRequest>();
            CheckSize(body.WrittenCount, typeId, nameof(request));
            PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
            return StartRequest(PendingRequest<TResponse>.Rent(_options.InlineCompletions), typeId, body.WrittenSpan, default, deadline, cancellationToken);
        }
        finally
        {
            SerializationBuffer.Return(body);
        }
    }

    /// <summary>Sends a raw request (<paramref name="typeId"/>, default 0) and waits for the answer: its type id and a copy of its bytes.</summary>
    /// <param name="body">The bytes; do not change them until the returned task completes.</param>
    /// <param name="typeId">The type id the peer sees, which selects its raw handler (<see cref="MessageTypeId.Untyped"/> for plain bytes).</param>
    /// <param name="timeout">How long to wait for everything (a request slot, room, the answer); null uses <see cref="PipeChannelOptions.DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait (a late answer is then ignored).</param>
    /// <exception cref="ArgumentException">The body is larger than the peer accepts.</exception>
    /// <exception cref="TimeoutException">No answer within the timeout.</exception>
    /// <exception cref="PipeRemoteException">The handler threw, or the peer has no handler for the type id.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended before the answer came.</exception>
    public ValueTask<IpcMessage> RequestRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IpcMessage>(cancellationToken);
        }

        CheckSize(body.Length, typeId, nameof(body));
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        return StartRequest(PendingRequest<IpcMessage>.Rent(_options.InlineCompletions), typeId, body.Span, body, deadline, cancellationToken);
    }

    /// <summary>Every one-way message the peer sends that no handler takes, in order, until the connection ends.</summary>
    /// <remarks>
    /// Messages arriving while nobody reads are dropped (<see cref="PipeUnhandledMessages.Drop"/>, the default): start
    /// reading before asking the peer for messages, or set <see cref="PipeChannelOptions.UnhandledMessages"/> to Queue.
    /// </remarks>
    public IAsyncEnumerable<IpcMessage> ReceiveAllAsync(CancellationToken cancellationToken = default) => _inbox.ReadAllAsync(cancellationToken);

    /// <summary>Every one-way message of type <typeparamref name="T"/> the peer sends that no handler takes, deserialized.</summary>
    /// <exception cref="IpcProtocolException">A message of another type arrived (the enumeration ends; the connection goes on), or a body is not a valid <typeparamref name="T"/> (the peer broke the protocol; the connection closes).</exception>
    public IAsyncEnumerable<T> ReceiveAllAsync<T>(CancellationToken cancellationToken = default) => _inbox.ReadAllAsync<T>(cancellationToken);

    /// <summary>Sends a frame the send buffer allows now, else after waiting (with a copy of the body if the caller's span does not last).</summary>
    private ValueTask Send(FrameKind kind, int typeId, ReadOnlySpan<byte> body, ReadOnlyMemory<byte> lasting, PipeRoom room, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        try
        {
            if (Output.TryWrite(kind, 0, typeId, body, room, urgent: false))
            {
                return default;
            }
        }
        catch (Exception exception)
        {
            return ValueTask.FromException(exception);
        }

        PipeDeadline deadline;
        try
        {
            deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        }
        catch (ArgumentOutOfRangeException exception)
        {
            return ValueTask.FromException(exception);
        }

        ReadOnlyMemory<byte> kept = lasting.Length == body.Length ? lasting : body.ToArray();
        return Output.WriteWhenRoomAsync(kind, 0, typeId, kept, room, urgent: false, deadline, cancellationToken);
    }

    private ValueTask<T> StartRequest<T>(PendingRequest<T> pending, int typeId, ReadOnlySpan<byte> body, ReadOnlyMemory<byte> lasting, PipeDeadline deadline, CancellationToken cancellationToken)
    {
        pending.Deadline = deadline;
        pending.RequestTypeId = typeId;
        pending.Started = Stopwatch.GetTimestamp();
        try
        {
            if (!_requests.TryAdd(pending))
            {
                return RequestAfterSlotAsync(pending, typeId, lasting.Length == body.Length ? lasting : body.ToArray(), deadline, cancellationToken);
            }
        }
        catch (Exception exception)
        {
            return ValueTask.FromException<T>(exception);
        }

        // In the table before the frame can leave, so the answer always finds it.
        pending.RegisterCancellation(_requests, cancellationToken);
        bool written;
        try
        {
            written = Output.TryWrite(FrameKind.Request, pending.Id, typeId, body, PipeRoom.Buffer, urgent: true);
        }
        catch (Exception exception)
        {
            // The connection ended: the request fails with why, unless the close already failed it (with the same).
            if (_requests.Withdraw(pending.Id, pending))
            {
                pending.Fail(exception);
            }

            return pending.Task;
        }

        if (written)
        {
            return pending.Task;
        }

        return WriteRequestWhenRoomAsync(pending, typeId, lasting.Length == body.Length ? lasting : body.ToArray(), deadline, cancellationToken);
    }

    private async ValueTask<T> RequestAfterSlotAsync<T>(PendingRequest<T> pending, int typeId, ReadOnlyMemory<byte> body, PipeDeadline deadline, CancellationToken cancellationToken)
    {
        await _requests.AddAsync(pending, deadline, cancellationToken).ConfigureAwait(false);
        pending.RegisterCancellation(_requests, cancellationToken);
        return await WriteRequestWhenRoomAsync(pending, typeId, body, deadline, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<T> WriteRequestWhenRoomAsync<T>(PendingRequest<T> pending, int typeId, ReadOnlyMemory<byte> body, PipeDeadline deadline, CancellationToken cancellationToken)
    {
        try
        {
            await Output.WriteWhenRoomAsync(FrameKind.Request, pending.Id, typeId, body, PipeRoom.Buffer, urgent: true, deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Never sent: the id and the slot go back at once (the peer will not answer a request it never got).
            if (_requests.Withdraw(pending.Id, pending))
            {
                pending.Fail(exception);
            }
        }

        return await pending.Task.ConfigureAwait(false);
    }

    private void CheckSize(int length, int typeId, string paramName)
    {
        int max = PeerMaxFrameSize;
        if (length > max)
        {
            throw new ArgumentException(
                $"The {MessageTypeId.Describe(typeId)} is {length} bytes; the peer accepts frames of at most {max} bytes (its MaxFrameSize). Nothing was sent.", paramName);
        }
    }

    /// <summary>A control frame (ping, pong, credit): skipped when the room it needs is not there now, or the connection ended.</summary>
    internal void TrySendControl(FrameKind kind, ReadOnlySpan<byte> body, PipeRoom room)
    {
        try
        {
            Output.TryWrite(kind, 0, 0, body, room, urgent: true);
        }
        catch (Exception)
        {
            // Ended: nobody to tell.
        }
    }

    /// <summary>Heartbeat, liveness, request deadlines and the receive watchdog; runs every few tens of milliseconds on a timer.</summary>
    private void OnTick()
    {
        if (!IsConnected)
        {
            return;
        }

        long now = Environment.TickCount64;
        CloseIfWriteFailureUnresolved(now);
        WatchReader(now);
        if (CheckLiveness(now))
        {
            return;
        }

        if (now - Output.LastWrite >= _heartbeatMilliseconds)
        {
            Span<byte> ping = stackalloc byte[PipeProtocol.PingSize];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(ping, now);
            TrySendControl(FrameKind.Ping, ping, PipeRoom.Buffer);
        }

        if (_requests.Count > 0)
        {
            ExpireRequests(now);
        }
    }

    private void ExpireRequests(long now)
    {
        List<PendingRequest> expired = [];
        _requests.Expire(now, expired);
        foreach (PendingRequest request in expired)
        {
            PipeMetrics.Failure("timeout");
            request.Fail(request.Deadline.Expired($"the answer to request {request.Id} ({MessageTypeId.Describe(request.RequestTypeId)}) on {this}"));
        }
    }

    private void StartTimer()
    {
        long now = Environment.TickCount64;
        Volatile.Write(ref _lastReceived, now);
        int tick = (int)Math.Clamp(_heartbeatMilliseconds / 2, 1, MaxTickMilliseconds);
        _timer = new Timer(static state => ((PipeConnection)state!).OnTick(), this, tick, tick);
    }
}
