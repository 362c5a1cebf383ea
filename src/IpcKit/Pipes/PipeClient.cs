using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>
/// The client end of a pipe channel: connects to a <see cref="PipeServer"/> by name, waiting with back-off until one
/// listens, and optionally reconnects when the connection ends. The channel is duplex: a client registers request and
/// message handlers like a server (see <see cref="PipePeer"/>), and the server can call it.
/// </summary>
/// <remarks>
/// <para>
/// Without handlers, <see cref="ConnectAsync(string, PipeClientOptions?, TimeSpan?, CancellationToken)"/> creates and
/// connects a client in one call. With handlers: <c>new PipeClient(name)</c>, register them, then
/// <see cref="ConnectAsync(TimeSpan?, CancellationToken)"/>, so they are in place before the server's first frame.
/// </para>
/// <para>
/// Operations go to the current <see cref="Connection"/>. With <see cref="PipeClientOptions.AutoReconnect"/> an
/// operation started while the client reconnects waits for the new connection (within its own timeout); requests that
/// were in flight when the old one ended fail with its exception (they are not resent: the server may have acted on
/// them). Received messages of all successive connections arrive through one <see cref="ReceiveAllAsync(CancellationToken)"/>.
/// </para>
/// </remarks>
public sealed class PipeClient : PipePeer, IAsyncDisposable
{
    // Back-off between connection attempts while no server listens: quick at first, then at most 10 per second.
    private const int FirstRetryMilliseconds = 1;
    private const int MaxRetryMilliseconds = 100;

    private readonly PipeClientOptions _options;
    private readonly PipeInbox _inbox;
    private readonly CancellationTokenSource _disposed = new();
    private readonly TaskCompletionSource<PipeCloseInfo> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private PipeConnection? _connection;
    private TaskCompletionSource<PipeConnection>? _reconnected;
    private PipeStatistics _closedStatistics;
    private int _state; // 0 created, 1 connecting or connected, 2 disposed

    /// <summary>Creates a client for <paramref name="name"/>; register handlers, then <see cref="ConnectAsync(TimeSpan?, CancellationToken)"/>.</summary>
    /// <exception cref="ArgumentException">The name is invalid or too long, or an option is invalid.</exception>
    public PipeClient(string name, PipeClientOptions? options = null)
        : base(name, Validated(options ??= new PipeClientOptions()))
    {
        _options = options;
        Path = PipeEndpoint.GetPath(name);
        _inbox = new PipeInbox(options.UnhandledMessages);
    }

    /// <summary>Raised after the client connected again (with <see cref="PipeClientOptions.AutoReconnect"/>).</summary>
    public event EventHandler<PipeConnectionEventArgs>? Reconnected;

    /// <summary>The path the client connects to (see <see cref="IpcName.GetPipePath"/>).</summary>
    public string Path { get; }

    /// <summary>The current connection (replaced after a reconnect).</summary>
    /// <exception cref="InvalidOperationException">The client has not connected yet.</exception>
    public PipeConnection Connection => Volatile.Read(ref _connection)
        ?? throw new InvalidOperationException($"The pipe client '{Name}' is not connected yet: call ConnectAsync first.");

    /// <summary>Whether the client has a connection that is open now.</summary>
    public bool IsConnected => Volatile.Read(ref _connection) is { IsConnected: true };

    /// <summary>Completes when the client is done for good (disposed, or its connection ended and it does not or could not reconnect).</summary>
    public Task<PipeCloseInfo> Completion => _completion.Task;

    /// <summary>What the client has sent, received and dropped over all its connections.</summary>
    public override PipeStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return _closedStatistics + (_connection is { IsConnected: true } connection ? connection.Statistics : default);
            }
        }
    }

    /// <summary>Creates a client and connects it, waiting up to <paramref name="timeout"/> for a server to listen.</summary>
    /// <param name="name">The pipe name.</param>
    /// <param name="options">The client's settings; null for the defaults.</param>
    /// <param name="timeout">How long to wait for a server (and its handshake); null uses <see cref="PipeChannelOptions.DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="TimeoutException">No server accepted within the timeout (or it stayed at its connection limit).</exception>
    /// <exception cref="IpcProtocolException">The server speaks another protocol version or refused the handshake.</exception>
    /// <exception cref="UnauthorizedAccessException">The server runs as another user (with <see cref="PipeChannelOptions.CurrentUserOnly"/>).</exception>
    /// <exception cref="ArgumentException">The name is invalid or too long.</exception>
    public static async Task<PipeClient> ConnectAsync(string name, PipeClientOptions? options = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var client = new PipeClient(name, options);
        try
        {
            await client.ConnectAsync(timeout, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Connects, waiting up to <paramref name="timeout"/> for a server to listen.</summary>
    /// <param name="timeout">How long to wait for a server (and its handshake); null uses <see cref="PipeChannelOptions.DefaultTimeout"/>.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="TimeoutException">No server accepted within the timeout (or it stayed at its connection limit).</exception>
    /// <exception cref="IpcProtocolException">The server speaks another protocol version or refused the handshake.</exception>
    /// <exception cref="InvalidOperationException">The client is already connected (or connecting), or disposed.</exception>
    public async Task ConnectAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            ObjectDisposedException.ThrowIf(_state == 2, this);
            throw new InvalidOperationException($"The pipe client '{Name}' is already connected or connecting.");
        }

        PipeConnection connection;
        try
        {
            connection = await ConnectCoreAsync(deadline, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A failed connect leaves the client as it was: it may try again.
            Interlocked.CompareExchange(ref _state, 0, 1);
            throw;
        }

        lock (_gate)
        {
            _connection = connection;
        }

        _ = WatchAsync(connection);
    }

    /// <summary>Sends a one-way message (see <see cref="PipeConnection.SendAsync{T}"/>); while reconnecting, waits for the new connection within the timeout.</summary>
    public ValueTask SendAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Current() is { } connection
            ? connection.SendAsync(message, timeout, cancellationToken)
            : SendAfterReconnectAsync(message, timeout, cancellationToken);

    /// <summary>Sends a raw one-way message (see <see cref="PipeConnection.SendRawAsync"/>).</summary>
    public ValueTask SendRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Current() is { } connection
            ? connection.SendRawAsync(body, typeId, timeout, cancellationToken)
            : SendRawAfterReconnectAsync(body, typeId, timeout, cancellationToken);

    /// <summary>Sends a request and waits for its answer (see <see cref="PipeConnection.RequestAsync{TRequest, TResponse}"/>).</summary>
    public ValueTask<TResponse> RequestAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Current() is { } connection
            ? connection.RequestAsync<TRequest, TResponse>(request, timeout, cancellationToken)
            : RequestAfterReconnectAsync<TRequest, TResponse>(request, timeout, cancellationToken);

    /// <summary>Sends a raw request and waits for the answer (see <see cref="PipeConnection.RequestRawAsync"/>).</summary>
    public ValueTask<IpcMessage> RequestRawAsync(ReadOnlyMemory<byte> body, int typeId = MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Current() is { } connection
            ? connection.RequestRawAsync(body, typeId, timeout, cancellationToken)
            : RequestRawAfterReconnectAsync(body, typeId, timeout, cancellationToken);

    /// <summary>Every one-way message the server sends that no handler takes, across reconnects, until the client is done.</summary>
    /// <remarks>Messages arriving while nobody reads are dropped by default (<see cref="PipeChannelOptions.UnhandledMessages"/>): start reading first.</remarks>
    public IAsyncEnumerable<IpcMessage> ReceiveAllAsync(CancellationToken cancellationToken = default) => _inbox.ReadAllAsync(cancellationToken);

    /// <summary>Every one-way message of type <typeparamref name="T"/> the server sends that no handler takes, deserialized.</summary>
    /// <exception cref="IpcProtocolException">A message of another type arrived (the enumeration ends; the connection goes on), or a body is not a valid <typeparamref name="T"/>.</exception>
    public IAsyncEnumerable<T> ReceiveAllAsync<T>(CancellationToken cancellationToken = default) => _inbox.ReadAllAsync<T>(cancellationToken);

    /// <summary>Closes the connection in an orderly way and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            if (Volatile.Read(ref _connection) is not null)
            {
                await Completion.ConfigureAwait(false);
            }

            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        PipeConnection? connection = Volatile.Read(ref _connection);
        if (connection is null)
        {
            Finish(new PipeCloseInfo(IpcCloseReason.Local, new ObjectDisposedException(ToString(), "The pipe client was disposed before it connected.")));
            return;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        Finish(connection.CloseInfo!);
        await Completion.ConfigureAwait(false);

        // Only this class's own watcher reads the source after this, and it reads IsCancellationRequested, which a
        // disposed source still answers.
        _disposed.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"pipe client '{Name}' ({(Volatile.Read(ref _connection) is { } connection ? connection.ToString() : "not connected")})";

    private static PipeClientOptions Validated(PipeClientOptions options)
    {
        options.Validate();
        return options;
    }

    private async Task<PipeConnection> ConnectCoreAsync(PipeDeadline deadline, CancellationToken cancellationToken)
    {
        int delay = FirstRetryMilliseconds;
        bool full = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            PipeTransport? transport = await PipeEndpoint.TryConnectAsync(Name, _options.CurrentUserOnly, cancellationToken).ConfigureAwait(false);
            if (transport is not null)
            {
                // Owned by the client once it is the current connection (disposed in DisposeAsync).
#pragma warning disable CA2000
                var connection = new PipeConnection(
                    transport, _options, this, isServerSide: false, _inbox, dedicatedThread: _options.ReceiveMode != PipeReceiveMode.ThreadPool);
#pragma warning restore CA2000
                connection.Start(deadline.Within(_options.HandshakeTimeout), cancellationToken);
                try
                {
                    await connection.Handshake.WaitAsync(cancellationToken).ConfigureAwait(false);
                    return connection;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                catch (IpcPeerGoneException) when (!deadline.HasPassed)
                {
                    // A server that is dying (killed, stopping) can still complete connect() from its backlog, then
                    // vanish before its hello: no server, as far as waiting for one is concerned. Try again.
                }
                catch (PipeServerFullException) when (!deadline.HasPassed)
                {
                    full = true;
                }
                catch (PipeServerFullException exception)
                {
                    throw new TimeoutException($"The server on pipe '{Name}' ({Path}) stayed at its connection limit (MaxConnections) for {deadline}: {exception.Message}", exception);
                }
                catch (TimeoutException exception) when (full && deadline.HasPassed)
                {
                    // The last attempt's handshake had only what was left of the deadline.
                    throw new TimeoutException($"The server on pipe '{Name}' ({Path}) stayed at its connection limit (MaxConnections) for {deadline}.", exception);
                }
            }

            if (deadline.HasPassed)
            {
                throw new TimeoutException(full
                    ? $"The server on pipe '{Name}' ({Path}) stayed at its connection limit (MaxConnections) for {deadline}."
                    : $"No server listened on pipe '{Name}' ({Path}) within {deadline}.");
            }

            // Sleeping between attempts, never spinning: a client may wait a long time for its server to start.
            int wait = deadline.IsInfinite ? delay : Math.Min(delay, Math.Max(deadline.RemainingMilliseconds, 1));
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, MaxRetryMilliseconds);
        }
    }

    /// <summary>The connection to use now, or null when the client is reconnecting and the operation should wait for the next one.</summary>
    private PipeConnection? Current()
    {
        PipeConnection connection = Connection;
        return connection.IsUsable || !_options.AutoReconnect || _disposed.IsCancellationRequested || _completion.Task.IsCompleted
            ? connection
            : null;
    }

    private async Task<PipeConnection> WaitForConnectionAsync(PipeDeadline deadline, CancellationToken cancellationToken)
    {
        Task<PipeConnection> next;
        lock (_gate)
        {
            PipeConnection current = _connection!;
            if (current.IsUsable)
            {
                return current;
            }

            if (_reconnected is null)
            {
                if (!_options.AutoReconnect || _disposed.IsCancellationRequested || _completion.Task.IsCompleted)
                {
                    return current;
                }

                // The connection ended (or a write failed) but its watcher has not started reconnecting yet: wait for the
                // reconnection it will start, instead of failing on the dead connection. A chaos test saw thousands of
                // requests fail in that window after each server kill.
                _reconnected = new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            next = _reconnected.Task;
        }

        await deadline.WaitAsync(next, $"pipe client '{Name}' to reconnect", cancellationToken).ConfigureAwait(false);
        return await next.ConfigureAwait(false);
    }

    private async ValueTask SendAfterReconnectAsync<T>(T message, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        PipeConnection connection = await WaitForConnectionAsync(deadline, cancellationToken).ConfigureAwait(false);
        await connection.SendAsync(message, deadline.Remaining, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SendRawAfterReconnectAsync(ReadOnlyMemory<byte> body, int typeId, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        PipeConnection connection = await WaitForConnectionAsync(deadline, cancellationToken).ConfigureAwait(false);
        await connection.SendRawAsync(body, typeId, deadline.Remaining, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<TResponse> RequestAfterReconnectAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        PipeConnection connection = await WaitForConnectionAsync(deadline, cancellationToken).ConfigureAwait(false);
        return await connection.RequestAsync<TRequest, TResponse>(request, deadline.Remaining, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IpcMessage> RequestRawAfterReconnectAsync(ReadOnlyMemory<byte> body, int typeId, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        PipeDeadline deadline = PipeDeadline.From(timeout, _options.DefaultTimeout);
        PipeConnection connection = await WaitForConnectionAsync(deadline, cancellationToken).ConfigureAwait(false);
        return await connection.RequestRawAsync(body, typeId, deadline.Remaining, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Follows one connection to its end, then reconnects or finishes the client.</summary>
    private async Task WatchAsync(PipeConnection connection)
    {
        PipeCloseInfo info = await connection.Completion.ConfigureAwait(false);
        lock (_gate)
        {
            _closedStatistics += connection.Statistics;
        }

        if (_disposed.IsCancellationRequested || !_options.AutoReconnect)
        {
            Finish(info);
            return;
        }

        TaskCompletionSource<PipeConnection> reconnected;
        lock (_gate)
        {
            // An operation may already wait on it (see WaitForConnectionAsync).
            reconnected = _reconnected ??= new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        PipeLog.Reconnecting(Logger, Name, info.Reason, _options.ReconnectTimeout.TotalMilliseconds);
        PipeConnection next;
        try
        {
            // Owned by the client once it is the current connection (disposed in DisposeAsync).
#pragma warning disable CA2000
            next = await ReconnectAsync().ConfigureAwait(false);
#pragma warning restore CA2000
        }
        catch (Exception exception)
        {
            // Gave up (or disposed): waiting operations fail with why the last connection ended, and why no new one came.
            Exception failure = _disposed.IsCancellationRequested
                ? info.Exception
                : new IpcPeerGoneException(
                    $"{info.Exception.Message} Reconnecting failed: {exception.Message}",
                    (info.Exception as IpcPeerGoneException)?.Reason ?? IpcCloseReason.Disconnected,
                    exception);
            if (!_disposed.IsCancellationRequested)
            {
                PipeLog.ReconnectFailed(Logger, Name, exception);
            }

            reconnected.TrySetException(failure);
            _ = reconnected.Task.Exception;
            Finish(new PipeCloseInfo(info.Reason, failure));
            return;
        }

        lock (_gate)
        {
            _connection = next;
            _reconnected = null;
        }

        reconnected.TrySetResult(next);
        if (_disposed.IsCancellationRequested)
        {
            await next.DisposeAsync().ConfigureAwait(false);
            Finish(next.CloseInfo!);
            return;
        }

        PipeLog.Reconnected(Logger, Name, next.Id, next.PeerProcessId);
        Raise(Reconnected, new PipeConnectionEventArgs(next));
        await WatchAsync(next).ConfigureAwait(false);
    }

    /// <summary>Connects again within ReconnectTimeout, also through failed handshakes (a server that was just stopping, say).</summary>
    private async Task<PipeConnection> ReconnectAsync()
    {
        PipeDeadline deadline = PipeDeadline.From(_options.ReconnectTimeout, _options.ReconnectTimeout);
        while (true)
        {
            try
            {
                return await ConnectCoreAsync(deadline, _disposed.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IpcException or UnauthorizedAccessException && deadline.RemainingMilliseconds > MaxRetryMilliseconds)
            {
                await Task.Delay(MaxRetryMilliseconds, _disposed.Token).ConfigureAwait(false);
            }
        }
    }

    private void Finish(PipeCloseInfo info)
    {
        // Operations that started waiting for a reconnection that will not come fail like the connection did.
        TaskCompletionSource<PipeConnection>? waiting;
        lock (_gate)
        {
            waiting = _reconnected;
        }

        if (waiting is not null && waiting.TrySetException(info.Exception))
        {
            _ = waiting.Task.Exception;
        }

        // The shared inbox outlives single connections only while reconnecting; now it ends like the connection did.
        _inbox.Complete(info.IsOrderly ? null : info.Exception);
        _completion.TrySetResult(info);
    }
}
