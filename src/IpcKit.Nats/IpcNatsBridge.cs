using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;

namespace IpcKit.Nats;

/// <summary>
/// Connects IpcKit rings and pipe channels to NATS subjects, both ways, carrying IpcKit messages unchanged: the
/// MessagePack body as the NATS payload, the type id in the <c>IpcKit-Type-Id</c> header. Runs the routes of its
/// options over one NATS connection; <c>ipckit bridge</c> is this class in a process of its own.
/// </summary>
/// <remarks>
/// Shaped like a hosted service: <see cref="StartAsync"/> returns once every route runs (or throws, having undone
/// what it started), <see cref="StopAsync"/> stops taking messages, finishes those in hand until its token fires, and
/// releases everything. <see cref="Completion"/> faults if a route fails (the bridge then stops the others).
/// Delivery guarantees per mode: docs/bridge.md.
/// </remarks>
public sealed class IpcNatsBridge : IAsyncDisposable
{
    private static readonly TimeSpan s_disposeGrace = TimeSpan.FromSeconds(5);
    private readonly IpcNatsBridgeOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<RouteRunner> _runners = [];
    private readonly List<Task> _running = [];
    private NatsConnection? _nats;
    private int _state; // 0 new, 1 starting or started, 2 stopping or stopped
    private Task? _stopped;

    /// <summary>Creates a bridge; nothing is connected until <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException">A setting or route is invalid (the message names it).</exception>
    public IpcNatsBridge(IpcNatsBridgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger("IpcKit.Nats.Bridge") ?? NullLogger.Instance;
    }

    /// <summary>What the bridge moved so far.</summary>
    public BridgeStatistics Statistics { get; } = new();

    /// <summary>The routes, as given.</summary>
    public IReadOnlyList<BridgeRoute> Routes => [.. _options.Routes];

    /// <summary>Completes when the bridge has stopped; faults with the first failing route's exception (logged with the route) if one failed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Removes the delivery records (DeliveryRecord.cs) that JetStream routes into <paramref name="ring"/> keep beside
    /// the ring file; for use when the ring is deleted for good. Returns how many were removed.
    /// </summary>
    public static int DeleteDeliveryRecords(string ring)
    {
        BridgeRoute.ValidateRing(ring, nameof(ring));
        string ringPath = IpcName.GetRingPath(ring);
        string folder = Path.GetDirectoryName(ringPath)!;
        int removed = 0;
        foreach (string path in Directory.EnumerateFiles(folder, Path.GetFileName(DeliveryRecord.PathFor(ringPath, "*"))))
        {
            File.Delete(path);
            removed++;
        }

        return removed;
    }

    /// <summary>Connects to NATS and starts every route; returns when all run.</summary>
    /// <exception cref="TimeoutException">The NATS server, a ring or a pipe server did not answer within <see cref="IpcNatsBridgeOptions.AttachTimeout"/>.</exception>
    /// <exception cref="InvalidOperationException">The bridge was started before.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("This bridge was started before; create a new one.");
        }

        try
        {
            _nats = new NatsConnection(NatsOptions());
            _nats.ConnectionDisconnected += OnDisconnectedAsync;
            _nats.ConnectionOpened += OnReconnectedAsync;
            try
            {
                await _nats.ConnectAsync().AsTask().WaitAsync(_options.AttachTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException exception)
            {
                throw new TimeoutException($"The NATS server at {_options.Url} did not answer within {_options.AttachTimeout}.", exception);
            }
            catch (NatsException exception)
            {
                throw new IpcException($"Cannot connect to the NATS server at {_options.Url}: {exception.Message}", exception);
            }

            BridgeLog.Connected(_logger, _options.Url, _nats.ServerInfo?.Name ?? "?", _options.Routes.Count);
            var context = new BridgeContext(_nats, _options, _logger, Statistics);
            foreach (BridgeRoute route in _options.Routes)
            {
                RouteRunner runner = RouteRunner.Create(route, context);
                _runners.Add(runner);
                await runner.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            Volatile.Write(ref _state, 2);
            await ReleaseAsync().ConfigureAwait(false);
            lock (_running)
            {
                _stopped ??= Task.CompletedTask;
            }

            DisposeTokens();
            _completion.TrySetResult();
            throw;
        }

        foreach (RouteRunner runner in _runners)
        {
            BridgeLog.RouteStarted(_logger, runner.Route);
            _running.Add(Task.Run(() => RunRouteAsync(runner), CancellationToken.None));
        }
    }

    /// <summary>
    /// Stops taking messages, lets the routes finish what they took (a ring write or stream publish in progress, pipe
    /// requests in flight) until <paramref name="cancellationToken"/> fires, then releases everything.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_running)
        {
            _stopped ??= StopCoreAsync(cancellationToken);
            return _stopped;
        }
    }

    /// <summary>Stops (allowing five seconds to finish what is in hand) and releases everything.</summary>
    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(s_disposeGrace);
        await StopAsync(grace.Token).ConfigureAwait(false);
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _state, 2);
        await _stopping.CancelAsync().ConfigureAwait(false);
        using (cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _aborting))
        {
            await Task.WhenAll(_running).ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }

        await ReleaseAsync().ConfigureAwait(false);
        DisposeTokens();
        _completion.TrySetResult();
    }

    private async Task RunRouteAsync(RouteRunner runner)
    {
        try
        {
            await runner.RunAsync(_stopping.Token, _aborting.Token).ConfigureAwait(false);
            BridgeLog.RouteStopped(_logger, runner.Route);
        }
        catch (OperationCanceledException) when (_aborting.IsCancellationRequested)
        {
            BridgeLog.RouteStopped(_logger, runner.Route);
        }
        catch (Exception exception)
        {
            BridgeLog.RouteFailed(_logger, runner.Route, exception);
            // The route's own exception, so its kind (a timeout, a peer gone) decides the exit code of ipckit bridge.
            _completion.TrySetException(exception);

            // One route failing stops the bridge: a half-working bridge is harder to notice than a stopped one.
            _ = StopAsync(CancellationToken.None);
        }
    }

    private async Task ReleaseAsync()
    {
        foreach (RouteRunner runner in _runners)
        {
            try
            {
                await runner.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                BridgeLog.RouteFailed(_logger, runner.Route, exception);
            }
        }

        if (_nats is not null)
        {
            _nats.ConnectionDisconnected -= OnDisconnectedAsync;
            _nats.ConnectionOpened -= OnReconnectedAsync;
            await _nats.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void DisposeTokens()
    {
        _stopping.Dispose();
        _aborting.Dispose();
    }

    private NatsOpts NatsOptions()
    {
        NatsOpts options = NatsOpts.Default with
        {
            Url = _options.Url,
            Name = _options.ClientName,
            MaxReconnectRetry = _options.MaxReconnectAttempts,
            ConnectTimeout = _options.AttachTimeout,
            LoggerFactory = _options.LoggerFactory ?? NullLoggerFactory.Instance,
        };
        return _options.ConfigureNats?.Invoke(options) ?? options;
    }

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        if (Volatile.Read(ref _state) == 1)
        {
            BridgeLog.Disconnected(_logger, args.Message);
        }

        return default;
    }

    private ValueTask OnReconnectedAsync(object? sender, NatsEventArgs args)
    {
        if (Volatile.Read(ref _state) == 1 && _running.Count > 0)
        {
            BridgeLog.Reconnected(_logger);
        }

        return default;
    }
}
