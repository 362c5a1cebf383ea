using IpcKit.Pipes;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// A pipe client the host keeps connected: it connects in the background when the host starts, waits for a server that
/// is not there yet, reconnects when the server goes away, and closes when the host stops. Resolve it by its name
/// (<c>[FromKeyedServices("calc")] HostedPipeClient calc</c>) or inject it into a typed client registered with
/// <see cref="IpcKitBuilder.AddPipeClient{TClient}"/>. Thread-safe.
/// </summary>
/// <remarks>
/// A call made while the client is not connected waits for the connection, within the same timeout as the call itself
/// (<see cref="HostedPipeOptions.DefaultTimeout"/> when none is given).
/// </remarks>
public sealed class HostedPipeClient : IAsyncDisposable
{
    private readonly HostedPipeClientOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource<PipeClient> _current = NewPending();
    private Task _loop = Task.CompletedTask;
    private int _state; // 0 created, 1 started, 2 stopped

    internal HostedPipeClient(string name, string pipeName, HostedPipeClientOptions options, ILoggerFactory? loggerFactory)
    {
        Name = name;
        PipeName = pipeName;
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = Loggers.Create(loggerFactory);
    }

    /// <summary>The name the client was registered under.</summary>
    public string Name { get; }

    /// <summary>The OS name of the pipe it connects to.</summary>
    public string PipeName { get; }

    /// <summary>Whether it is connected now.</summary>
    public bool IsConnected => Client is { } client && PipeApi.IsConnected(client);

    /// <summary>The underlying client while one is connected (or reconnecting), else null; for what this class does not forward.</summary>
    public PipeClient? Client
    {
        get
        {
            Task<PipeClient> current = Volatile.Read(ref _current).Task;
            return current.IsCompletedSuccessfully ? current.Result : null;
        }
    }

    /// <summary>Waits until the client is connected.</summary>
    /// <exception cref="TimeoutException">It did not connect within <paramref name="timeout"/> (null: <see cref="HostedPipeOptions.DefaultTimeout"/>).</exception>
    /// <exception cref="ObjectDisposedException">The host stopped.</exception>
    public async Task WaitForConnectionAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _ = await ConnectedAsync(timeout ?? _options.DefaultTimeout, cancellationToken).ConfigureAwait(false);

    /// <summary>Sends a request and waits for its answer; the timeout covers waiting for the connection too.</summary>
    /// <exception cref="TimeoutException">No connection or no answer within <paramref name="timeout"/> (null: <see cref="HostedPipeOptions.DefaultTimeout"/>).</exception>
    /// <exception cref="PipeRemoteException">The server's handler failed (the message carries its exception's type and message).</exception>
    public async Task<TResponse> RequestAsync<TRequest, TResponse>(TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan limit = timeout ?? _options.DefaultTimeout;
        long started = Environment.TickCount64;
        PipeClient client = await ConnectedAsync(limit, cancellationToken).ConfigureAwait(false);
        return await PipeApi.RequestAsync<TRequest, TResponse>(client, request, Durations.Remaining(limit, started), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a one-way message; the timeout covers waiting for the connection and for room.</summary>
    /// <exception cref="TimeoutException">No connection or no room within <paramref name="timeout"/> (null: <see cref="HostedPipeOptions.DefaultTimeout"/>).</exception>
    public async Task SendAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan limit = timeout ?? _options.DefaultTimeout;
        long started = Environment.TickCount64;
        PipeClient client = await ConnectedAsync(limit, cancellationToken).ConfigureAwait(false);
        await PipeApi.SendAsync(client, message, Durations.Remaining(limit, started), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection and stops reconnecting (the host does this when it stops).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        Volatile.Read(ref _current).TrySetException(Stopped());
        _stop.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"hosted pipe client '{Name}' ({PipeName}, {(IsConnected ? "connected" : "not connected")})";

    internal void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
        {
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    private static TaskCompletionSource<PipeClient> NewPending() => new(TaskCreationOptions.RunContinuationsAsynchronously);


    private ObjectDisposedException Stopped() => new(ToString(), "The host stopped: the pipe client is closed.");

    private async Task<PipeClient> ConnectedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
        Task<PipeClient> current = Volatile.Read(ref _current).Task;
        if (current.IsCompleted)
        {
            return await current.ConfigureAwait(false);
        }

        try
        {
            return await current.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Pipe client '{Name}' is not connected to {PipeApi.GetPath(PipeName)}: no server answered within {timeout}.");
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        TimeSpan delay = _options.RetryDelay;
        string path = PipeApi.GetPath(PipeName);
        while (!stop.IsCancellationRequested)
        {
            PipeClient client;
            try
            {
                HostingLog.PipeClientWaiting(_logger, Name, path);
                client = await PipeApi.ConnectAsync(PipeName, _options, _loggerFactory, Timeout.InfiniteTimeSpan, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception) when (exception is IOException or IpcProtocolException or UnauthorizedAccessException or TimeoutException)
            {
                // A server of another version, a socket that is not ours: say so, and try again later (bounded pause).
                HostingLog.PipeClientConnectFailed(_logger, exception, Name, path, delay);
                try
                {
                    await Task.Delay(delay, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
                continue;
            }

            delay = _options.RetryDelay;
            PipeApi.OnReconnected(client, connection => HostingLog.PipeClientReconnected(_logger, Name, connection));
            HostingLog.PipeClientConnected(_logger, Name, path);
            Volatile.Read(ref _current).TrySetResult(client);
            string? end = null;
            try
            {
                end = await PipeApi.WaitForEndAsync(client, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            // Calls from here on wait for the next connection (or fail at the host's stop).
            Volatile.Write(ref _current, stop.IsCancellationRequested ? _current : NewPending());
            if (end is not null)
            {
                HostingLog.PipeClientDisconnected(_logger, Name, end);
            }

            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
