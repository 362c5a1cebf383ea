namespace IpcKit.Nats;

/// <summary>What a bridge moved since it started, over all its routes. Thread-safe; read at any time.</summary>
public sealed class BridgeStatistics
{
    private long _forwarded;
    private long _duplicates;
    private long _dropped;
    private long _rejected;
    private long _requests;
    private long _requestsFailed;

    /// <summary>Messages carried from a channel to NATS or from NATS into a channel (ring messages and one-way pipe messages).</summary>
    public long MessagesForwarded => Volatile.Read(ref _forwarded);

    /// <summary>JetStream redeliveries (or republished ring messages) recognised as already done and skipped.</summary>
    public long DuplicatesSkipped => Volatile.Read(ref _duplicates);

    /// <summary>Core NATS messages the client dropped because the bridge could not keep up (the ring stayed full).</summary>
    public long MessagesDropped => Volatile.Read(ref _dropped);

    /// <summary>Messages that can never be delivered (larger than the ring's maximum, or a malformed type id header); each is logged.</summary>
    public long MessagesRejected => Volatile.Read(ref _rejected);

    /// <summary>Pipe requests carried across NATS (either direction).</summary>
    public long RequestsForwarded => Volatile.Read(ref _requests);

    /// <summary>Of those, the ones answered with an error (timeout, remote handler error, nobody serving).</summary>
    public long RequestsFailed => Volatile.Read(ref _requestsFailed);

    internal void Forwarded(int count = 1) => Interlocked.Add(ref _forwarded, count);

    internal void Duplicate() => Interlocked.Increment(ref _duplicates);

    internal long Dropped() => Interlocked.Increment(ref _dropped);

    internal void Rejected() => Interlocked.Increment(ref _rejected);

    internal void Request(bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
        {
            Interlocked.Increment(ref _requestsFailed);
        }
    }
}
