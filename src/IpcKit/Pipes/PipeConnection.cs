using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace IpcKit.Pipes;

/// <summary>
/// One connection between a <see cref="PipeClient"/> and a <see cref="PipeServer"/>: typed and raw one-way messages,
/// requests with correlated answers, received messages as an async stream, heartbeats, and a completion that says why
/// it ended. Safe to use from many threads at once.
/// </summary>
/// <remarks>
/// Each connection runs a receive loop (socket to frames to dispatch), an output pipe with one writer at a time
/// draining it to the socket, and a timer (heartbeats, liveness, request deadlines). Senders only copy a frame into the
/// output pipe under a short lock; the writer writes whatever has accumulated with one call per segment, so frames sent
/// while a write is in progress leave together (flush coalescing). Nothing one connection does waits for another.
/// </remarks>
public sealed partial class PipeConnection : IAsyncDisposable
{
    // Graceful close lets the writer drain queued frames (the close frame last) for at most this long.
    private const int CloseDrainMilliseconds = 2000;
    private const int MaxTickMilliseconds = 50;
    private const int ReceiveBufferSize = 64 * 1024;
    private const int SendSegmentSize = 64 * 1024;

    // How long a failed write waits for the receive loop to tell an orderly close from a dead peer.
    private const int WriteFailureGraceMilliseconds = 1000;

    private static long s_nextId;

    private readonly PipeTransport _transport;
    private readonly PipeChannelOptions _options;
    private readonly PipeServer? _server;
    private readonly PipeReader _input;
    private readonly Pipe _output;
    private readonly Channel<PipeMessage> _inbound;
    private readonly bool _completeInboundOnClose;
    private readonly ConcurrentDictionary<uint, PendingRequest> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationToken _closedToken;
    private readonly TaskCompletionSource<PipeCloseInfo> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _maxHandlers;
    private readonly long _heartbeatMilliseconds;
    private readonly long _peerTimeoutMilliseconds;
    private PipeCloseInfo? _closeInfo;
    private Task _receiveLoop = Task.CompletedTask;
    private Timer? _timer;
    private int _nextCorrelationId;
    private long _lastReceived;
    private long _lastSent;
    private volatile bool _receiveBlocked;
    private int _peerMaxBody = PipeProtocol.ControlBodyLimit;
    private volatile bool _opened;
    private Exception? _writeFailure;
    private long _writeFailedAt;

    internal PipeConnection(PipeTransport transport, PipeChannelOptions options, PipeServer? server, Channel<PipeMessage>? inbound = null, bool completeInboundOnClose = true)
    {
        _transport = transport;
        _options = options;
        _server = server;
        Id = Interlocked.Increment(ref s_nextId);

        // Kept apart from the source, which is disposed when the connection ends: handlers still ask the token then.
        _closedToken = _closed.Token;
        PeerProcessId = transport.PeerProcessId;
        _input = PipeReader.Create(transport.Stream, new StreamPipeReaderOptions(bufferSize: ReceiveBufferSize, minimumReadSize: 4096, leaveOpen: true));

        // The output pipe is a byte queue with backpressure: nobody awaits its reader (the writer drains it with TryRead,
        // see PipeConnection.Send.cs); a sender waiting for room resumes on the thread pool, never inside the writer.
        _output = new Pipe(new PipeOptions(
            pauseWriterThreshold: options.SendBufferLimit,
            resumeWriterThreshold: options.SendBufferLimit / 2,
            minimumSegmentSize: SendSegmentSize,
            readerScheduler: PipeScheduler.ThreadPool,
            writerScheduler: PipeScheduler.ThreadPool,
            useSynchronizationContext: false));
        _completeInboundOnClose = completeInboundOnClose;
        _inbound = inbound ?? CreateInbox(options);
        _maxHandlers = (options as PipeServerOptions)?.MaxConcurrentRequestsPerConnection ?? int.MaxValue;
        _heartbeatMilliseconds = (long)options.HeartbeatInterval.TotalMilliseconds;
        _peerTimeoutMilliseconds = (long)options.PeerTimeout.TotalMilliseconds;
    }

    /// <summary>A number that identifies the connection within this process, for logs.</summary>
    public long Id { get; }

    /// <summary>The peer's process id: from the kernel where it says (Linux), else as the peer announced it in its hello.</summary>
    public int? PeerProcessId { get; private set; }

    /// <summary>Whether this is the server's end of the connection.</summary>
    public bool IsServerSide => _server is not null;

    /// <summary>Whatever the application wants to keep with the connection (for example per-client state in a server).</summary>
    public object? State { get; set; }

    /// <summary>Whether the handshake completed and the connection has not ended: only then may anyone else send on it.</summary>
    internal bool IsOpen => _opened && IsConnected;

    /// <summary>Whether the connection is still open.</summary>
    public bool IsConnected => Volatile.Read(ref _closeInfo) is null;

    /// <summary>Why the connection ended, or null while it is open.</summary>
    public PipeCloseInfo? CloseInfo => Volatile.Read(ref _closeInfo);

    /// <summary>Completes (never faults) when the connection has ended and its resources are released, with the reason.</summary>
    public Task<PipeCloseInfo> Completion => _completion.Task;

    /// <summary>Cancelled when the connection ends; server handlers receive it as their cancellation token.</summary>
    public CancellationToken ClosedToken => _closedToken;

    /// <summary>The largest body the peer accepts (it announced it in its hello); larger messages are refused before sending.</summary>
    public int PeerMaxFrameSize => _peerMaxBody;

    /// <inheritdoc />
    public override string ToString() =>
        $"pipe connection #{Id}{(PeerProcessId is int pid ? $" with process {pid}" : "")}{(CloseInfo is { } info ? $" (closed: {info.Reason})" : "")}";

    internal static Channel<PipeMessage> CreateInbox(PipeChannelOptions options) =>
        Channel.CreateBounded<PipeMessage>(new BoundedChannelOptions(options.ReceiveQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });

    /// <summary>Counts the connection open once the handshake succeeded and tells the server's application.</summary>
    private void MarkOpen()
    {
        _opened = true;
        PipeMetrics.Connections.Add(1);

        // After our hello (the application may send from the event), before the first frame is dispatched (so it can
        // attach its per-connection State first).
        _server?.OnOpened(this);
    }

    /// <summary>Starts the receive loop and the timer once the handshake succeeded.</summary>
    private void StartLoops()
    {
        long now = Environment.TickCount64;
        Volatile.Write(ref _lastReceived, now);
        Volatile.Write(ref _lastSent, now);
        StartReceiving();
        int tick = (int)Math.Clamp(_heartbeatMilliseconds / 2, 1, MaxTickMilliseconds);
        _timer = new Timer(static state => ((PipeConnection)state!).OnTick(), this, tick, tick);
    }

    /// <summary>Heartbeat, liveness and request deadlines; runs every few tens of milliseconds on a timer thread.</summary>
    private void OnTick()
    {
        if (!IsConnected)
        {
            return;
        }

        long now = Environment.TickCount64;
        CloseIfWriteFailureUnresolved(now);

        // Silence is judged only while the receive loop is actually waiting for the socket: while it waits for the
        // application (a full receive queue, a busy handler slot) the peer's bytes sit unread through no fault of its own.
        long silent = now - Volatile.Read(ref _lastReceived);
        if (silent > _peerTimeoutMilliseconds && !_receiveBlocked && !_transport.HasUnreadInput)
        {
            Close(
                PipeCloseReason.PeerUnresponsive,
                new IpcPeerGoneException(
                    $"The peer sent nothing for {silent} ms (PeerTimeout is {_peerTimeoutMilliseconds} ms): it is frozen, stuck or gone.",
                    PeerGoneReason.Unresponsive),
                goodbye: null,
                drain: false);
            return;
        }

        if (now - Volatile.Read(ref _lastSent) >= _heartbeatMilliseconds)
        {
            Volatile.Write(ref _lastSent, now);
            Span<byte> ping = stackalloc byte[PipeProtocol.PingSize];
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(ping, now);
            TrySendControl(FrameKind.Ping, ping);
        }

        if (!_pending.IsEmpty)
        {
            ExpireRequests(now);
        }
    }
}
