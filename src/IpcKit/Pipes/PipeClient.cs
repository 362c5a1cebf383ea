using System.Threading.Channels;

namespace IpcKit.Pipes;

/// <summary>
/// The client end of a pipe channel: connects to a <see cref="PipeServer"/> by name, waiting with back-off until one
/// listens, and optionally reconnects when the connection ends.
/// </summary>
/// <remarks>
/// Operations go to the current <see cref="Connection"/>. With <see cref="PipeClientOptions.AutoReconnect"/> an
/// operation started while the client reconnects waits for the new connection; requests that were in flight when the
/// old one ended fail with its exception (they are not resent: the server may have acted on them).
/// Received messages of all successive connections arrive through one <see cref="ReceiveAllAsync(CancellationToken)"/>.
/// </remarks>
public sealed class PipeClient : IAsyncDisposable
{
    // Back-off between connection attempts while no server listens: quick at first, then at most 10 per second.
    private const int FirstRetryMilliseconds = 1;
    private const int MaxRetryMilliseconds = 100;

    private readonly PipeClientOptions _options;
    private readonly Channel<PipeMessage> _inbox;
    private readonly CancellationTokenSource _disposed = new();
    private readonly TaskCompletionSource<PipeCloseInfo> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private PipeConnection _connection;
    private TaskCompletionSource<PipeConnection>? _reconnected;
    private int _disposing;

    private PipeClient(string name, PipeClientOptions options, Channel<PipeMessage> inbox, PipeConnection connection)
    {
        Name = name;
        _options = options;
        _inbox = inbox;
        _connection = connection;
        _ = WatchAsync(connection);
    }

    /// <summary>Raised after the client connected again (with <see cref="PipeClientOptions.AutoReconnect"/>).</summary>
    public event EventHandler<PipeConnectionEventArgs>? Reconnected;

    /// <summary>The pipe name.</summary>
    public string Name { get; }

    /// <summary>The current connection (replaced after a reconnect).</summary>
    public PipeConnection Connection
    {
        get
        {
            lock (_gate)
            {
                return _connection;
            }
        }
    }

    /// <summary>Completes when the client is done for good (disposed, or its connection ended and it does not or could not reconnect).</summary>
    public Task<PipeCloseInfo> Completion => _completion.Task;

    /// <summary>Connects to the server on <paramref name="name"/>, waiting up to <paramref name="timeout"/> for one to listen.</summary>
    /// <exception cref="TimeoutException">No server accepted within the timeout.</exception>
    /// <exception cref="IpcProtocolException">The server speaks another protocol version or refused the handshake.</exception>
    /// <exception cref="ArgumentException">The name is invalid or too long.</exception>
    public static Task<PipeClient> ConnectAsync(string name, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        ConnectAsync(name, null, timeout, cancellationToken);

    /// <summary>Connects with <paramref name="options"/>, waiting up to <paramref name="timeout"/> for a server to listen.</summary>
    /// <exception cref="TimeoutException">No server accepted within the timeout.</exception>
    /// <exception cref="IpcProtocolException">The server speaks another protocol version or refused the handshake.</exception>
    /// <exception cref="ArgumentException">The name is invalid or too long.</exception>
    public static async Task<PipeClient> ConnectAsync(string name, PipeClientOptions? options, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        options ??= new PipeClientOptions();
        options.Validate();
        Channel<PipeMessage> inbox = PipeConnection.CreateInbox(options);
        // The client owns the connection from here on and disposes it.
#pragma warning disable CA2000
        PipeConnection connection = await ConnectCoreAsync(name, options, timeout, inbox, cancellationToken).ConfigureAwait(false);
#pragma warning restore CA2000
        return new PipeClient(name, options, inbox, connection);
    }

    /// <summary>Sends a one-way message (see <see cref="PipeConnection.SendAsync{T}"/>).</summary>
    public ValueTask SendAsync<T>(T message, CancellationToken cancellationToken = default)
    {
        PipeConnection? connection = CurrentOrNull();
        return connection is not null
            ? connection.SendAsync(message, cancellationToken)
            : SendAfterReconnectAsync(message, cancellationToken);
    }

    /// <summary>Sends a raw one-way message (see <see cref="PipeConnection.SendRawAsync"/>).</summary>
    public ValueTask SendRawAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        PipeConnection? connection = CurrentOrNull();
        return connection is not null
            ? connection.SendRawAsync(body, cancellationToken)
            : SendRawAfterReconnectAsync(body, cancellationToken);
    }

    /// <summary>Sends a request and waits for its answer (see <see cref="PipeConnection.RequestAsync{TRequest, TResponse}"/>).</summary>
    public async Task<TResponse> RequestAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        PipeConnection connection = CurrentOrNull() ?? await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.RequestAsync<TRequest, TResponse>(request, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a raw request and waits for the raw answer (see <see cref="PipeConnection.RequestRawAsync"/>).</summary>
    public Task<byte[]> RequestRawAsync(ReadOnlyMemory<byte> body, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        PipeConnection? connection = CurrentOrNull();
        return connection is not null
            ? connection.RequestRawAsync(body, timeout, cancellationToken)
            : RequestRawAfterReconnectAsync(body, timeout, cancellationToken);
    }

    /// <summary>Every one-way message the server pushes, across reconnects, until the client is done (one reader at a time).</summary>
    public IAsyncEnumerable<PipeMessage> ReceiveAllAsync(CancellationToken cancellationToken = default) =>
        PipeConnection.ReadInboxAsync(_inbox.Reader, cancellationToken);

    /// <summary>Every one-way message of type <typeparamref name="T"/> the server pushes, deserialized.</summary>
    /// <exception cref="IpcProtocolException">A message of another type or with an unreadable body arrived.</exception>
    public IAsyncEnumerable<T> ReceiveAllAsync<T>(CancellationToken cancellationToken = default) =>
        PipeConnection.ReadInboxAsync<T>(_inbox.Reader, () => Connection, cancellationToken);

    /// <summary>Closes the connection in an orderly way and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposing, 1) != 0)
        {
            await Completion.ConfigureAwait(false);
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        PipeConnection connection = Connection;
        await connection.DisposeAsync().ConfigureAwait(false);
        Finish(connection.CloseInfo!);
        await Completion.ConfigureAwait(false);

        // Only this class's own watcher reads the source after this, and it reads IsCancellationRequested, which a
        // disposed source still answers.
        _disposed.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"pipe client '{Name}' ({Connection})";

    internal static async Task<PipeConnection> ConnectCoreAsync(
        string name, PipeClientOptions options, TimeSpan timeout, Channel<PipeMessage>? inbox, CancellationToken cancellationToken)
    {
        string path = PipeEndpoint.GetPath(name);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        }

        long start = Environment.TickCount64;
        int delay = FirstRetryMilliseconds;
        long TimeLeft() => timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : (long)timeout.TotalMilliseconds - (Environment.TickCount64 - start);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            PipeTransport? transport = await PipeEndpoint.TryConnectAsync(name, options.CurrentUserOnly, cancellationToken).ConfigureAwait(false);
            long left;
            if (transport is not null)
            {
                var connection = new PipeConnection(transport, options, server: null, inbox, completeInboundOnClose: !options.AutoReconnect);
                try
                {
                    await connection.ClientHandshakeAsync(cancellationToken).ConfigureAwait(false);
                    return connection;
                }
                catch (IpcPeerGoneException) when (TimeLeft() > 0)
                {
                    // A server that is dying (killed, stopping) can still complete connect() from its backlog, then
                    // vanish before its hello: no server, as far as waiting for one is concerned. Try again.
                }
            }

            left = TimeLeft();
            if (left <= 0)
            {
                throw new TimeoutException(
                    $"No server listened on pipe '{name}' ({path}) within {timeout.TotalMilliseconds} ms.");
            }

            // Sleeping between attempts, never spinning: a client may wait a long time for its server to start.
            await Task.Delay((int)Math.Min(delay, left), cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, MaxRetryMilliseconds);
        }
    }

    private PipeConnection? CurrentOrNull()
    {
        PipeConnection connection = Connection;
        return connection.IsConnected || !_options.AutoReconnect || _disposed.IsCancellationRequested || _completion.Task.IsCompleted
            ? connection
            : null;
    }

    private async Task<PipeConnection> WaitForConnectionAsync(CancellationToken cancellationToken)
    {
        Task<PipeConnection> next;
        lock (_gate)
        {
            if (_connection.IsConnected)
            {
                return _connection;
            }

            if (_reconnected is null)
            {
                if (!_options.AutoReconnect || _disposed.IsCancellationRequested || _completion.Task.IsCompleted)
                {
                    return _connection;
                }

                // The connection ended but its watcher has not started reconnecting yet (it waits for the connection's
                // completion): wait for the reconnection it will start, instead of failing on the dead connection. A
                // chaos test saw thousands of requests fail in that window after each server kill.
                _reconnected = new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            next = _reconnected.Task;
        }

        return await next.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SendAfterReconnectAsync<T>(T message, CancellationToken cancellationToken) =>
        await (await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false)).SendAsync(message, cancellationToken).ConfigureAwait(false);

    private async ValueTask SendRawAfterReconnectAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        await (await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false)).SendRawAsync(body, cancellationToken).ConfigureAwait(false);

    private async Task<byte[]> RequestRawAfterReconnectAsync(ReadOnlyMemory<byte> body, TimeSpan? timeout, CancellationToken cancellationToken) =>
        await (await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false)).RequestRawAsync(body, timeout, cancellationToken).ConfigureAwait(false);

    /// <summary>Follows one connection to its end, then reconnects or finishes the client.</summary>
    private async Task WatchAsync(PipeConnection connection)
    {
        PipeCloseInfo info = await connection.Completion.ConfigureAwait(false);
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
                    (info.Exception as IpcPeerGoneException)?.Reason ?? PeerGoneReason.Disconnected,
                    exception);
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

        try
        {
            Reconnected?.Invoke(this, new PipeConnectionEventArgs(next));
        }
        catch (Exception)
        {
            // The application's handler must not stop the client from watching its new connection.
        }

        await WatchAsync(next).ConfigureAwait(false);
    }

    /// <summary>Connects again within ReconnectTimeout, also through failed handshakes (a server that was just stopping, say).</summary>
    private async Task<PipeConnection> ReconnectAsync()
    {
        long deadline = Environment.TickCount64 + (long)_options.ReconnectTimeout.TotalMilliseconds;
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            try
            {
                // Owned by the client once it is the current connection (disposed in DisposeAsync).
#pragma warning disable CA2000
                return await ConnectCoreAsync(Name, _options, TimeSpan.FromMilliseconds(Math.Max(left, 0)), _inbox, _disposed.Token).ConfigureAwait(false);
#pragma warning restore CA2000
            }
            catch (Exception exception) when (exception is IpcException or UnauthorizedAccessException && left > MaxRetryMilliseconds)
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
        _inbox.Writer.TryComplete(info.IsOrderly ? null : info.Exception);
        _completion.TrySetResult(info);
    }
}
