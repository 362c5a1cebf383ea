namespace IpcKit.Nats;

/// <summary>Writing a message from NATS into a ring with back-pressure: wait for room, never drop.</summary>
internal static class RingWriting
{
    private static readonly TimeSpan s_slice = TimeSpan.FromSeconds(1);
    private static readonly long s_logEvery = 10_000;
    private static long s_lastFullLog = long.MinValue / 2;

    /// <summary>
    /// Writes, waiting for room while the ring is full (the caller takes no further message meanwhile, so NATS holds
    /// them: JetStream in the stream, core NATS in the client's buffer). Throws <see cref="TimeoutException"/> if the
    /// ring stayed full for the route's WriteTimeout (infinite by default); honours <paramref name="cancellationToken"/>.
    /// </summary>
    internal static async ValueTask WriteAsync(RingSink sink, NatsToRingRoute route, BridgeContext context, int typeId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (sink.TryWrite(typeId, body.Span))
        {
            return;
        }

        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref s_lastFullLog) >= s_logEvery)
        {
            Volatile.Write(ref s_lastFullLog, now);
            BridgeLog.RingFull(context.Logger, route, route.Ring);
        }

        long deadline = route.WriteTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : now + (long)route.WriteTimeout.TotalMilliseconds;
        while (true)
        {
            long remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
            {
                throw new TimeoutException(
                    $"Ring '{route.Ring}' stayed full for {route.WriteTimeout}; the route stops rather than drop the message (in JetStream mode it stays in the stream).");
            }

            TimeSpan slice = remaining < s_slice.TotalMilliseconds ? TimeSpan.FromMilliseconds(remaining) : s_slice;
            if (await sink.WriteAsync(typeId, body, slice, cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }
}
