using System.Collections.Concurrent;
using System.Net.Sockets;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>
/// Listens on a pipe name and serves many clients at once, each on its own <see cref="PipeConnection"/>: request
/// handlers per request type, message handlers, push to one client and broadcast to all.
/// </summary>
/// <remarks>
/// Register handlers, then <see cref="Start"/>. Accepting never waits for a client: each accepted connection does its
/// handshake and runs its loops on its own, so a client that is slow, silent or hostile delays nobody but itself.
/// On Unix the socket is FOLDER/NAME.sock in a folder only this user can enter (see <see cref="GetPath"/>) and is
/// removed on dispose; a second server on the same name fails with <see cref="IpcInUseException"/>.
/// </remarks>
public sealed class PipeServer : IAsyncDisposable
{
    private readonly PipeServerOptions _options;
    private readonly ConcurrentDictionary<int, RequestHandler> _requestHandlers = new();
    private readonly ConcurrentDictionary<int, MessageHandler> _messageHandlers = new();
    private readonly ConcurrentDictionary<long, PipeConnection> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private PipeListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _state; // 0 created, 1 started, 2 disposed

    /// <summary>Creates a server for <paramref name="name"/>; nothing is created in the OS until <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentException">The name breaks the name rule or is too long for a socket path (the message shows the path).</exception>
    public PipeServer(string name, PipeServerOptions? options = null)
    {
        _options = options ?? new PipeServerOptions();
        _options.Validate();
        Path = PipeEndpoint.GetPath(name);
        Name = name;
    }

    /// <summary>Raised when a client completed the handshake.</summary>
    public event EventHandler<PipeConnectionEventArgs>? ConnectionOpened;

    /// <summary>Raised when any accepted connection ended, including one that failed its handshake; <see cref="PipeConnection.CloseInfo"/> says why.</summary>
    public event EventHandler<PipeConnectionEventArgs>? ConnectionClosed;

    /// <summary>Raised when a handler threw (a request handler's caller received an error response as well).</summary>
    public event EventHandler<PipeHandlerFailedEventArgs>? HandlerFailed;

    /// <summary>The pipe name.</summary>
    public string Name { get; }

    /// <summary>The path clients connect to: the Unix socket file, or <c>\\.\pipe\ipckit.NAME</c> on Windows.</summary>
    public string Path { get; }

    /// <summary>The longest pipe name on this machine; on Unix it depends on the socket folder's path (sun_path is 108 bytes).</summary>
    public static int MaxNameLength => PipeEndpoint.MaxNameLength;

    /// <summary>The connections that completed their handshake and are still open.</summary>
    public IReadOnlyCollection<PipeConnection> Connections => [.. _connections.Values.Where(connection => connection.IsOpen)];

    /// <summary>The path a server for <paramref name="name"/> listens on (the socket file on Unix).</summary>
    /// <exception cref="ArgumentException">The name is invalid or too long; the message shows the path.</exception>
    public static string GetPath(string name) => PipeEndpoint.GetPath(name);

    /// <summary>Whether a server is listening on <paramref name="name"/> now (a connection attempt without handshake).</summary>
    public static async Task<bool> IsListeningAsync(string name, CancellationToken cancellationToken = default)
    {
        PipeTransport? transport = await PipeEndpoint.TryConnectAsync(name, currentUserOnly: true, cancellationToken).ConfigureAwait(false);
        transport?.Dispose();
        return transport is not null;
    }

    /// <summary>Handles requests of type <typeparamref name="TRequest"/>; the handler's answer (or exception) goes back to the caller.</summary>
    /// <remarks>The handler starts on the connection's receive loop: do not block in it; await instead.</remarks>
    public void HandleRequest<TRequest, TResponse>(Func<TRequest, PipeConnection, CancellationToken, ValueTask<TResponse>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddHandler(_requestHandlers, MessageTypeId.Of<TRequest>(), new TypedRequestHandler<TRequest, TResponse>(handler), typeof(TRequest).FullName);
    }

    /// <summary>Handles requests of type <typeparamref name="TRequest"/> with a synchronous function.</summary>
    public void HandleRequest<TRequest, TResponse>(Func<TRequest, TResponse> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        HandleRequest<TRequest, TResponse>((request, _, _) => new ValueTask<TResponse>(handler(request)));
    }

    /// <summary>Handles raw-bytes requests (message type 0); the request bytes are the handler's to keep.</summary>
    public void HandleRawRequest(Func<ReadOnlyMemory<byte>, PipeConnection, CancellationToken, ValueTask<ReadOnlyMemory<byte>>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddHandler(_requestHandlers, MessageTypeId.Untyped, new RawRequestHandler(handler), "raw bytes");
    }

    /// <summary>Handles one-way messages of type <typeparamref name="T"/>, in order per connection, instead of queueing them for ReceiveAllAsync.</summary>
    public void HandleMessage<T>(Func<T, PipeConnection, ValueTask> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddHandler(_messageHandlers, MessageTypeId.Of<T>(), new TypedMessageHandler<T>(handler), typeof(T).FullName);
    }

    /// <summary>Handles raw one-way messages (message type 0) in place on the receive loop, without copying them.</summary>
    public void HandleRawMessage(PipeRawMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddHandler(_messageHandlers, MessageTypeId.Untyped, new RawMessageHandler(handler), "raw bytes");
    }

    /// <summary>Takes the name and starts accepting clients.</summary>
    /// <exception cref="IpcInUseException">Another live server owns the name (the message shows the path).</exception>
    /// <exception cref="UnauthorizedAccessException">The socket folder belongs to another user or is open to others.</exception>
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

        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Sends a one-way message to every open connection; a slow client delays this call, not the others' delivery.</summary>
    /// <returns>How many connections it was sent to (those that closed meanwhile are skipped).</returns>
    public ValueTask<int> BroadcastAsync<T>(T message, CancellationToken cancellationToken = default) =>
        BroadcastCoreAsync(connection => connection.SendAsync(message, cancellationToken));

    /// <summary>Sends raw bytes as a one-way message to every open connection.</summary>
    public ValueTask<int> BroadcastRawAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        BroadcastCoreAsync(connection => connection.SendRawAsync(body, cancellationToken));

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
    }

    /// <inheritdoc />
    public override string ToString() => $"pipe server '{Name}' ({Path})";

    /// <summary>Answers requests of every type id no handler was registered for (a forwarder such as the NATS bridge).</summary>
    internal RequestHandler? FallbackRequestHandler { get; set; }

    /// <summary>Takes one-way messages of every type id no handler was registered for.</summary>
    internal MessageHandler? FallbackMessageHandler { get; set; }

    internal RequestHandler? FindRequestHandler(int typeId) =>
        _requestHandlers.TryGetValue(typeId, out RequestHandler? handler) ? handler : FallbackRequestHandler;

    internal MessageHandler? FindMessageHandler(int typeId) =>
        !_messageHandlers.IsEmpty && _messageHandlers.TryGetValue(typeId, out MessageHandler? handler) ? handler : FallbackMessageHandler;

    internal void OnOpened(PipeConnection connection) => Raise(ConnectionOpened, new PipeConnectionEventArgs(connection));

    internal void OnClosed(PipeConnection connection)
    {
        _connections.TryRemove(connection.Id, out _);
        Raise(ConnectionClosed, new PipeConnectionEventArgs(connection));
    }

    internal void OnHandlerFailed(PipeConnection connection, Exception exception) =>
        Raise(HandlerFailed, new PipeHandlerFailedEventArgs(connection, exception));

    private void Raise<TArgs>(EventHandler<TArgs>? handler, TArgs args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
            // An application's event handler must not take down the accept loop or a connection.
        }
    }

    private static void AddHandler<THandler>(ConcurrentDictionary<int, THandler> handlers, int typeId, THandler handler, string? what)
    {
        if (!handlers.TryAdd(typeId, handler))
        {
            throw new ArgumentException($"A handler for {what} (message type {typeId:x8}) is already registered.", nameof(handler));
        }
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

            try
            {
                ValueTask write = send(connection);
                sent++;
                if (!write.IsCompletedSuccessfully)
                {
                    (waiting ??= []).Add(write.AsTask());
                }
            }
            catch (Exception exception) when (exception is IpcException or ObjectDisposedException)
            {
                // Closed meanwhile.
            }
        }

        if (waiting is not null)
        {
            // Each connection has its own queue, so waiting for the slowest here does not hold back anyone's delivery.
            try
            {
                await Task.WhenAll(waiting).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IpcException or ObjectDisposedException)
            {
            }
        }

        return sent;
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
            catch (Exception exception) when (exception is SocketException or IOException)
            {
                // Out of file descriptors (EMFILE) or a client that vanished inside accept: pause a little, go on.
                PipeMetrics.Failure("accept");
                pause = Math.Clamp(pause * 2, 10, 1000);
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

            var connection = new PipeConnection(transport, _options, this);
            _connections[connection.Id] = connection;
            _ = connection.RunServerAsync();
        }
    }
}
