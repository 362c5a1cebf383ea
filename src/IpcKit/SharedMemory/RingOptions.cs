namespace IpcKit.SharedMemory;

/// <summary>How a new ring is laid out.</summary>
public sealed class RingOptions
{
    /// <summary>The data area in bytes: a power of two from 4 KiB to 1 GiB. The default is 1 MiB.</summary>
    public long Capacity { get; init; } = 1 << 20;

    /// <summary>The largest payload a writer may put in one message; at most (and by default) capacity / 2 - 8.</summary>
    public int? MaxMessageSize { get; init; }

    /// <summary>Whether to replace an existing ring of the same name that no live process uses.</summary>
    public bool ReclaimAbandoned { get; init; }
}

/// <summary>How a writer or reader behaves once attached.</summary>
public sealed class RingEndpointOptions
{
    /// <summary>How to wait for data or space (the default spins, yields, then sleeps).</summary>
    public RingWaitStrategy WaitStrategy { get; init; } = RingWaitStrategy.Hybrid;

    /// <summary>How soon a blocked wait reports a peer that died (default 1 s). Liveness is checked four times per period.</summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(1);
}
