using System.Globalization;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace IpcKit.Nats;

// Ring → subject. The bridge is the ring's reader; it takes a batch of messages without committing the read, then:
//
// Core mode (at most once): commits the read first, then publishes. A bridge killed in between loses the batch; it
// never publishes a message twice.
//
// JetStream mode (exactly once into the stream): publishes every message of the batch with the message id
// "RING:IDENTITY:POSITION" (the ring position, with the ring file's creation time and creator so a ring created again
// does not reuse ids), waits until the stream acknowledged all of them, and only then commits the read. A bridge
// killed before the commit leaves the batch unread in the ring: its successor reads the same records at the same
// positions, publishes them with the same ids, and the stream drops those it already has (within its duplicate window,
// two minutes for streams the bridge creates). A failed publish is retried, only for the messages not acknowledged,
// until PublishTimeout; a retry can put a message behind later ones of its batch in the stream.
internal sealed class RingPublisher(RingToNatsRoute route, BridgeContext context) : RouteRunner(context)
{
    private static readonly TimeSpan s_idleWait = TimeSpan.FromMilliseconds(500);
    private RingSource? _source;
    private string _idPrefix = "";

    public override BridgeRoute Route => route;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (route.Mode == BridgeMode.JetStream)
        {
            await JetStreamSetup.EnsureStreamAsync(Context.JetStream, route.Stream!, route.Subject, cancellationToken).ConfigureAwait(false);
        }

        _source = await RingSource.AttachAsync(route.Ring, Context.Options.AttachTimeout, cancellationToken).ConfigureAwait(false);
        _idPrefix = _source.Identity.MessageIdPrefix(route.Ring);
    }

    public override async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        RingSource source = _source!;
        var items = new List<RingItem>(route.MaxBatch);
        var acked = new bool[route.MaxBatch];
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (!await source.WaitAsync(s_idleWait, stopping).ConfigureAwait(false))
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }

            items.Clear();
            source.Take(items, route.MaxBatch);
            if (route.Mode == BridgeMode.Core)
            {
                source.Commit();
                foreach (RingItem item in items)
                {
                    await Context.Nats.PublishAsync(route.Subject, item.Body, BridgeHeaders.ForType(item.TypeId), cancellationToken: aborting).ConfigureAwait(false);
                }
            }
            else
            {
                await PublishToStreamAsync(items, acked, aborting).ConfigureAwait(false);
                source.Commit();
            }

            Context.Statistics.Forwarded(items.Count);
        }
    }

    public override ValueTask DisposeAsync()
    {
        _source?.Dispose();
        return default;
    }

    private async Task PublishToStreamAsync(List<RingItem> items, bool[] acked, CancellationToken cancellationToken)
    {
        Array.Clear(acked);
        var pending = new Task<PubAckResponse>?[items.Count];
        long deadline = route.PublishTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)route.PublishTimeout.TotalMilliseconds;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            for (int i = 0; i < items.Count; i++)
            {
                if (!acked[i])
                {
                    RingItem item = items[i];
                    var options = new NatsJSPubOpts { MsgId = _idPrefix + item.Position.ToString(CultureInfo.InvariantCulture) };
                    pending[i] = Context.JetStream.PublishAsync(route.Subject, item.Body, opts: options, headers: BridgeHeaders.ForType(item.TypeId), cancellationToken: cancellationToken).AsTask();
                }
            }

            Exception? failure = null;
            int failed = 0;
            for (int i = 0; i < items.Count; i++)
            {
                if (acked[i])
                {
                    continue;
                }

                try
                {
                    PubAckResponse ack = await pending[i]!.ConfigureAwait(false);
                    ack.EnsureSuccess();
                    acked[i] = true;
                    if (ack.Duplicate)
                    {
                        Context.Statistics.Duplicate();
                    }
                }
                catch (NatsJSDuplicateMessageException)
                {
                    // Published by a predecessor that died before committing its read: the stream has it once already.
                    acked[i] = true;
                    Context.Statistics.Duplicate();
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    failure ??= exception;
                    failed++;
                }
            }

            if (failure is null)
            {
                return;
            }

            if (Environment.TickCount64 >= deadline)
            {
                throw new TimeoutException(
                    $"Stream '{route.Stream}' did not acknowledge {failed} message(s) of ring '{route.Ring}' within {route.PublishTimeout}: {failure.Message} They stay unread in the ring and are published again when the bridge restarts.",
                    failure);
            }

            BridgeLog.PublishRetry(Context.Logger, route, failure.Message, failed);
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }
}
