using System.Collections.Concurrent;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>
/// Listens on a pipe name and serves many clients at once, each on its own <see cref="PipeConnection"/>: request and
/// message handlers (see <see cref="PipePeer"/>), push to one client, broadcast to all, and requests to a client that
/// registered handlers of its own.
/// </summary>
/// <remarks>
/// Register handlers, then <see cref="Start"/>. Accepting never waits for a client: each accepted connection does its
/// handshake and runs its loops on its own, so a client that is slow, silent or hostile delays nobody but itself.
/// On Unix the socket is FOLDER/NAME.sock in a folder only this user can enter (see <see cref="IpcName.GetPipePath"/>)
/// and is removed on dispose; a second server on the same name fails with <see cref="IpcInUseException"/>.
/// </remarks>
public sealed class PipeServer : PipePeer, IAsyncDisposable
{
    private readonly PipeServerOptions _options;
    private readonly ConcurrentDictionary<long, PipeConnection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _closedGate = new();
    private PipeStatistics _closedStatistics;
    private PipeListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _connectionCount;
    private int _dedicatedThreads;
    private long _served;
    private int _state; // 0 created, 1 started, 2 disposed

    /// <summary>Creates a server for <paramref name="name"/>; nothing is created in the OS until <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentException">The name breaks the name rule or is too long for a socket path (the message shows the path), or an option is invalid.</exception>
    public PipeServer(string name, PipeServerOptions? options = null)
        : base(name, Validated(options ??= new PipeServerOptions()))
    {
        _options = options;
        Path = PipeEndpoint.GetPath(name);
    }

    /// <summary>Raised when a client completed the handshake (before its first frame is handled: a place to set <see cref="PipeConnection.State"/>).</summary>
    public event EventHandler<PipeConnectionEventArgs>? ConnectionOpened;

    /// <summary>Raised when any accepted connection ended, including one that failed its handshake; <see cref="PipeConnection.CloseInfo"/> says why.</summary>
    public event EventHandler<PipeConnectionEventArgs>? ConnectionClosed;

    /// <summary>The path clients connect to: the Unix socket file, or <c>\\.\pipe\ipckit.NAME</c> on Windows.</summary>
    public string Path { get; }

    /// <summary>The connections that completed their handshake and are still open.</summary>
    public IReadOnlyCollection<PipeConnection> Connections => [.. _connections.Values.Where(connection => connection.IsOpen)];

    /// <summary>What the server has sent, received and dropped over all connections, open and closed.</summary>
    public override PipeStatistics Statistics
    {
        get
        {
            PipeStatistics total;
            lock (_closedGate)
            {
                total = _closedStatistics;
            }

            foreach (PipeConnection connection in _connections.Values)
            {
                total += connection.Statistics;
            }

            return total;
        }
    }

    /// <summary>Whether a server is listening on <paramref name="name"/> now (a connection attempt without handshake).</summary>
    public static async Task<bool> IsListeningAsync(string name, CancellationToken cancellationToken = default)
    {
        PipeTransport? transport = await PipeEndpoint.TryConnectAsync(name, currentUserOnly: true, cancellationToken).ConfigureAwait(false);
        transport?.Dispose();
        return transport is not null;
    }

    /// <summary>Takes the name and starts accepting clients.</summary>
    /// <exception cref="IpcInUseException">Another live server owns the name (the message shows the path).</exception>
    /// <exception cref="UnauthorizedAccessException">The socket folder or the lock file belongs to another user or is open to others.</exception>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            ObjectDisposedException.ThrowIf(_state == 2, this);
            throw new InvalidOperationException($"The pipe server '{Name}' is already started.");
        }

        try
        {
            _listener = PipeEndpoint.Listen(Name, _options);
        }
        catch
        {
            _state = 2;
            throw;
        }

        PipeLog.ServerListening(Logger, Name, Path);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Sends a one-way message to every open connection; a slow client delays this call, not the others' delivery.</summary>
    /// <param name="message">The message.</param>
    /// <param name="timeout">How long to wait for room on each connection; null uses <see cref="PipeChannelOptions.DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the waits.</param>
    /// <returns>How many connections it was sent to (those that closed meanwhile, or had no room in time, are not counted).</returns>
    public ValueTask<int> BroadcastAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        BroadcastCoreAsync(connection => connection.SendAsync(message, timeout, cancellationToken));

    /// <summary>Sends raw bytes (<paramref name="typeId"/>, default 0) as a one-way message to every open connection.</summary>
    /// <returns>How many connections it was sent to.</returns>
    public ValueTask<int> BroadcastRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        BroadcastCoreAsync(connection => connection.SendRawAsync(body, typeId, timeout, cancellationToken));

    /// <summary>Stops accepting, removes the socket, and closes every connection in an orderly way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The accept loop ends with the listener; it reports nothing else.
        }

        PipeConnection[] connections = [.. _connections.Values];
        foreach (PipeConnection connection in connections)
        {
            connection.CloseForShutdown();
        }

        await Task.WhenAll(connections.Select(connection => connection.Completion)).ConfigureAwait(false);
        _stopping.Dispose();
        PipeStatistics total = Statistics;
        long served = Interlocked.Read(ref _served);
        PipeLog.ServerStopped(Logger, Name, served, total);
    }

    /// <inheritdoc />
    public override string ToString() => $"pipe server '{Name}' ({Path})";

    /// <summary>Answers requests of every type id no handler was registered for (a forwarder such as the NATS bridge).</summary>
    internal RequestHandler? FallbackRequestHandler
    {
        get => Handlers.FallbackRequest;
        set => Handlers.FallbackRequest = value;
    }

    /// <summary>Takes one-way messages of every type id no handler was registered for.</summary>
    internal MessageHandler? FallbackMessageHandler
    {
        get => Handlers.FallbackMessage;
        set => Handlers.FallbackMessage = value;
    }

    internal override void OnOpened(PipeConnection connection) => Raise(ConnectionOpened, new PipeConnectionEventArgs(connection));

    internal override void OnClosed(PipeConnection connection)
    {
        lock (_closedGate)
        {
            _closedStatistics += connection.Statistics;
            _connections.TryRemove(connection.Id, out _);
        }

        Interlocked.Decrement(ref _connectionCount);
        if (connection.UsesDedicatedThread && _options.ReceiveMode == PipeReceiveMode.Auto)
        {
            Interlocked.Decrement(ref _dedicatedThreads);
        }

        Raise(ConnectionClosed, new PipeConnectionEventArgs(connection));
    }

    private async ValueTask<int> BroadcastCoreAsync(Func<PipeConnection, ValueTask> send)
    {
        List<Task>? waiting = null;
        int sent = 0;
        foreach (PipeConnection connection in _connections.Values)
        {
            // A connection still in its handshake must not get a message before the server's hello.
            if (!connection.IsOpen)
            {
                continue;
            }

            ValueTask write = send(connection);
            if (write.IsCompletedSuccessfully)
            {
                sent++;
            }
            else
            {
                (waiting ??= []).Add(write.AsTask());
            }
        }

        if (waiting is not null)
        {
            // Each connection has its own queue, so waiting for the slowest here does not hold back anyone's delivery.
            foreach (Task write in waiting)
            {
                try
                {
                    await write.ConfigureAwait(false);
                    sent++;
                }
                catch (Exception exception) when (exception is IpcException or ObjectDisposedException or TimeoutException or OperationCanceledException)
                {
                    // Closed meanwhile, or no room in time: not reached.
                }
            }
        }

        return sent;
    }

    private static PipeServerOptions Validated(PipeServerOptions options)
    {
        options.Validate();
        return options;
    }

    /// <summary>Whether the next connection reads on a thread of its own (Auto: while fewer than the limit do).</summary>
    private bool TakeDedicatedThread()
    {
        if (_options.ReceiveMode != PipeReceiveMode.Auto)
        {
            return _options.ReceiveMode == PipeReceiveMode.DedicatedThread;
        }

        if (Interlocked.Increment(ref _dedicatedThreads) <= _options.DedicatedReceiveThreadLimit)
        {
            return true;
        }

        Interlocked.Decrement(ref _dedicatedThreads);
        return false;
    }

    private async Task AcceptLoopAsync()
    {
        int pause = 0;
        while (!_stopping.IsCancellationRequested)
        {
            PipeTransport transport;
            try
            {
                transport = await _listener!.AcceptAsync(_stopping.Token).ConfigureAwait(false);
                pause = 0;
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is System.Net.Sockets.SocketException or IOException)
            {
                // Out of file descriptors (EMFILE) or a client that vanished inside accept: pause a little, go on.
                PipeMetrics.Failure("accept");
                pause = Math.Clamp(pause * 2, 10, 1000);
                PipeLog.AcceptFailed(Logger, Name, pause, exception);
                try
                {
                    await Task.Delay(pause, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            int count = Interlocked.Increment(ref _connectionCount);
            if (count > _options.MaxConnections)
            {
                Interlocked.Decrement(ref _connectionCount);
                Refuse(transport, count - 1);
                continue;
            }

            Interlocked.Increment(ref _served);
            var connection = new PipeConnection(transport, _options, this, isServerSide: true, inbox: null, dedicatedThread: TakeDedicatedThread());
            _connections[connection.Id] = connection;
            connection.Start(PipeDeadline.From(_options.HandshakeTimeout, _options.HandshakeTimeout), CancellationToken.None);
        }
    }

    /// <summary>Tells a client beyond <see cref="PipeServerOptions.MaxConnections"/> so (it waits and tries again), and closes.</summary>
    private void Refuse(PipeTransport transport, int connections)
    {
        PipeMetrics.Failure("full");
        PipeLog.ConnectionLimitReached(Logger, Name, connections, _options.MaxConnections);
        var body = new System.Buffers.ArrayBufferWriter<byte>(128);
        PipeProtocol.WriteErrorWithin(body, PipeProtocol.ServerFullType, $"The server '{Name}' is at its connection limit ({_options.MaxConnections} connections, MaxConnections).", PipeProtocol.ControlBodyLimit);
        byte[] frame = new byte[FrameHeader.Size + body.WrittenCount];
        new FrameHeader(FrameKind.Error, body.WrittenCount, 0, 0).Write(frame);
        body.WrittenSpan.CopyTo(frame.AsSpan(FrameHeader.Size));

        // A fresh socket's buffer takes these few bytes at once; if not, the client just sees the end.
        transport.TrySendNow(frame);
        transport.Dispose();
    }
}
