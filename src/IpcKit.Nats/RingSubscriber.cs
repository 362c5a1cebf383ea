using NATS.Client.Core;

namespace IpcKit.Nats;

// Subject → ring, core NATS (at most once). The bridge is the ring's writer and subscribes to the subject. While the
// ring is full it takes nothing from the subscription, so messages wait in the NATS client's buffer (its
// SubPendingChannelCapacity); what overflows that buffer the client drops, and every drop is counted and logged (at
// most once a second): core NATS has no way to hold a publisher back. For no loss, use JetStream mode.
internal sealed class RingSubscriber(NatsToRingRoute route, BridgeContext context) : RouteRunner(context)
{
    private RingSink? _sink;
    private INatsSub<byte[]>? _subscription;
    private long _lastDropLog = long.MinValue / 2;

    public override BridgeRoute Route => route;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _sink = await RingSink.AttachAsync(route.Ring, route.CreateRing, Context.Options.AttachTimeout, cancellationToken).ConfigureAwait(false);
        Context.Nats.MessageDropped += OnDroppedAsync;
        _subscription = await Context.Nats.SubscribeCoreAsync<byte[]>(route.Subject, route.QueueGroup, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public override async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        RingSink sink = _sink!;
        INatsSub<byte[]> subscription = _subscription!;
        try
        {
            while (await subscription.Msgs.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                while (!stopping.IsCancellationRequested && subscription.Msgs.TryRead(out NatsMsg<byte[]> message))
                {
                    if (!BridgeHeaders.TryGetTypeId(message.Headers, out int typeId, out string? problem))
                    {
                        Reject(problem!);
                        continue;
                    }

                    byte[] body = message.Data ?? [];
                    if (body.Length > sink.MaxMessageSize)
                    {
                        Reject($"{body.Length} bytes is more than ring '{route.Ring}' takes ({sink.MaxMessageSize})");
                        continue;
                    }

                    await RingWriting.WriteAsync(sink, route, Context, typeId, body, aborting).ConfigureAwait(false);
                    Context.Statistics.Forwarded();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }

        if (!stopping.IsCancellationRequested)
        {
            throw new IpcException($"The subscription to '{route.Subject}' ended: the NATS connection closed.");
        }
    }

    public override async ValueTask DisposeAsync()
    {
        Context.Nats.MessageDropped -= OnDroppedAsync;
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync().ConfigureAwait(false);
        }

        _sink?.Dispose();
    }

    private void Reject(string why)
    {
        Context.Statistics.Rejected();
        BridgeLog.Rejected(Context.Logger, route, "dropped", why);
    }

    private ValueTask OnDroppedAsync(object? sender, NatsMessageDroppedEventArgs args)
    {
        if (!ReferenceEquals(args.Subscription, _subscription))
        {
            return default;
        }

        long dropped = Context.Statistics.Dropped();
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref _lastDropLog) >= 1000)
        {
            Volatile.Write(ref _lastDropLog, now);
            BridgeLog.Dropped(Context.Logger, route, dropped);
        }

        return default;
    }
}
