using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace IpcKit.Nats;

/// <summary>What every route's runner shares: the NATS connection, the log and the counters.</summary>
internal sealed class BridgeContext(NatsConnection nats, IpcNatsBridgeOptions options, ILogger logger, BridgeStatistics statistics)
{
    private NatsJSContext? _jetStream;

    public NatsConnection Nats { get; } = nats;

    public NatsJSContext JetStream => _jetStream ??= new NatsJSContext(Nats);

    public IpcNatsBridgeOptions Options { get; } = options;

    public ILogger Logger { get; } = logger;

    public BridgeStatistics Statistics { get; } = statistics;
}

/// <summary>
/// One route at work. <see cref="StartAsync"/> sets it up (attaches, subscribes, creates what is missing) and fails
/// the bridge's start if it cannot; <see cref="RunAsync"/> then moves messages until <c>stopping</c> (take nothing new)
/// and finishes what it took unless <c>aborting</c> fires too.
/// </summary>
internal abstract class RouteRunner(BridgeContext context) : IAsyncDisposable
{
    protected BridgeContext Context { get; } = context;

    public abstract BridgeRoute Route { get; }

    public abstract Task StartAsync(CancellationToken cancellationToken);

    public abstract Task RunAsync(CancellationToken stopping, CancellationToken aborting);

    public abstract ValueTask DisposeAsync();

    internal static RouteRunner Create(BridgeRoute route, BridgeContext context) => route switch
    {
        RingToNatsRoute r => new RingPublisher(r, context),
        NatsToRingRoute { Mode: BridgeMode.Core } r => new RingSubscriber(r, context),
        NatsToRingRoute r => new RingConsumer(r, context),
        PipeServeRoute r => new PipeResponder(r, context),
        PipeConnectRoute r => new PipeForwarder(r, context),
        _ => throw new ArgumentException($"Unknown route type {route.GetType().FullName}.", nameof(route)),
    };
}
