using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace IpcKit.Nats;

// Subject → ring, JetStream (exactly once into the ring). The bridge is the ring's writer and the only client of a
// durable consumer of the stream. Per message, in stream order: skip (acknowledge) it if its stream sequence is at or
// below the last one in the ring; else record it as pending with the ring's write position, write it (waiting for
// room: the consumer then pulls nothing more, and the stream keeps the rest), record it as committed, and only then
// acknowledge it. DeliveryRecord.cs explains why a bridge killed at any point neither loses nor repeats a message.
//
// At start the consumer is deleted and created again to deliver from the sequence after the last one in the ring, so
// delivery is in stream order from there: a durable consumer left as it was would first deliver new messages and only
// after its AckWait redeliver the unacknowledged ones of the crashed bridge, out of order. In one session every message
// is received in order and written before the next is taken, so a redelivery (sequence at or below the last written)
// is always one already in the ring.
internal sealed class RingConsumer(NatsToRingRoute route, BridgeContext context) : RouteRunner(context)
{
    private RingSink? _sink;
    private DeliveryRecord? _record;
    private INatsJSConsumer? _consumer;
    private ulong _committed;

    public override BridgeRoute Route => route;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        NatsJSContext js = Context.JetStream;
        INatsJSStream stream = await JetStreamSetup.EnsureStreamAsync(js, route.Stream!, route.Subject, cancellationToken).ConfigureAwait(false);

        // The writer role first: it is exclusive, so a second bridge for this ring stops here, before the record.
        _sink = await RingSink.AttachAsync(route.Ring, route.CreateRing, Context.Options.AttachTimeout, cancellationToken).ConfigureAwait(false);
        _record = DeliveryRecord.Open(DeliveryRecord.PathFor(IpcName.GetRingPath(route.Ring), route.ConsumerName));
        ulong? committed = _record.Recover(_sink.Identity, stream.Info.Created.UtcTicks, _sink.Position, out ulong? pending, out bool pendingCommitted, out string? resetWhy);
        if (pending is { } sequence)
        {
            BridgeLog.Recovered(Context.Logger, route, sequence, pendingCommitted ? "is in the ring" : "is not in the ring; it is written again");
        }

        string source = "the delivery record";
        if (committed is null)
        {
            if (resetWhy is not null)
            {
                BridgeLog.RecordReset(Context.Logger, route, _record.Path, resetWhy);
            }

            try
            {
                INatsJSConsumer existing = await js.GetConsumerAsync(route.Stream!, route.ConsumerName, cancellationToken).ConfigureAwait(false);
                committed = existing.Info.AckFloor.StreamSeq;
                source = "the consumer's acknowledged floor";
            }
            catch (NatsJSApiException exception) when (JetStreamSetup.IsNotFound(exception))
            {
                committed = 0;
                source = "a new consumer";
            }

            _record.Reset(committed.Value);
        }

        _committed = committed.Value;
        try
        {
            await js.DeleteConsumerAsync(route.Stream!, route.ConsumerName, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (JetStreamSetup.IsNotFound(exception))
        {
        }

        var config = new ConsumerConfig(route.ConsumerName)
        {
            FilterSubject = route.Subject,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            MaxAckPending = route.MaxPending,
            AckWait = TimeSpan.FromSeconds(30),
            DeliverPolicy = _committed == 0 ? ConsumerConfigDeliverPolicy.All : ConsumerConfigDeliverPolicy.ByStartSequence,
            OptStartSeq = _committed == 0 ? 0 : _committed + 1,
        };
        _consumer = await js.CreateOrUpdateConsumerAsync(route.Stream!, config, cancellationToken).ConfigureAwait(false);
        BridgeLog.Resuming(Context.Logger, route, _committed, source, route.ConsumerName, _committed + 1);
    }

    public override async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        RingSink sink = _sink!;
        DeliveryRecord record = _record!;
        var options = new NatsJSConsumeOpts { MaxMsgs = Math.Min(route.MaxPending, 1000) };
        try
        {
            await foreach (NatsJSMsg<byte[]> message in _consumer!.ConsumeAsync<byte[]>(opts: options, cancellationToken: stopping).ConfigureAwait(false))
            {
                ulong sequence = message.Metadata?.Sequence.Stream
                    ?? throw new IpcProtocolException($"Stream '{route.Stream}' delivered a message without JetStream metadata on '{message.Subject}'.");
                if (sequence <= _committed)
                {
                    Context.Statistics.Duplicate();
                    await message.AckAsync(cancellationToken: aborting).ConfigureAwait(false);
                    continue;
                }

                byte[] body = message.Data ?? [];
                string? problem = null;
                if (!BridgeHeaders.TryGetTypeId(message.Headers, out int typeId, out problem) || body.Length > sink.MaxMessageSize)
                {
                    // It can never be written: terminate it (the stream keeps it for inspection) rather than block the route.
                    problem ??= $"{body.Length} bytes is more than ring '{route.Ring}' takes ({sink.MaxMessageSize})";
                    Context.Statistics.Rejected();
                    BridgeLog.Rejected(Context.Logger, route, $"terminated (stream sequence {sequence})", problem);
                    record.Complete(sequence);
                    _committed = sequence;
                    await message.AckTerminateAsync(cancellationToken: aborting).ConfigureAwait(false);
                    continue;
                }

                record.Begin(sequence, sink.Position);
                await RingWriting.WriteAsync(sink, route, Context, typeId, body, aborting).ConfigureAwait(false);
                record.Complete(sequence);
                _committed = sequence;
                Context.Statistics.Forwarded();
                await message.AckAsync(cancellationToken: aborting).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return;
        }

        if (!stopping.IsCancellationRequested)
        {
            throw new IpcException($"Consuming stream '{route.Stream}' ended: the NATS connection closed.");
        }
    }

    public override ValueTask DisposeAsync()
    {
        _record?.Dispose();
        _sink?.Dispose();
        return default;
    }
}
