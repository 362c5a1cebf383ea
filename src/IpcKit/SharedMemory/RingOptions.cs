using Microsoft.Extensions.Logging;

namespace IpcKit.SharedMemory;

/// <summary>How a new ring is laid out (see <see cref="RingBuffer.Create"/>).</summary>
public sealed class RingOptions
{
    /// <summary>Who writes and who reads: one-to-one (the default), many-to-one or broadcast.</summary>
    public RingKind Kind { get; init; } = RingKind.OneToOne;

    /// <summary>The data area in bytes: a power of two from 4 KiB to 1 GiB. The default is 1 MiB.</summary>
    public long Capacity { get; init; } = 1 << 20;

    /// <summary>The largest body a writer may put in one message; at most (and by default) capacity / 2 - 8.</summary>
    public int? MaxMessageSize { get; init; }

    /// <summary>A many-to-one ring: how many writer processes can be attached at once (1 to 64, default 16).</summary>
    public int MaxProducers { get; init; } = 16;

    /// <summary>A broadcast ring: how many subscribers can be attached at once (1 to 64, default 16).</summary>
    public int MaxSubscribers { get; init; } = 16;

    /// <summary>
    /// A broadcast ring: the writer never waits; a subscriber that falls a whole ring behind learns how many messages it
    /// lost and resumes at the oldest one still there. False (the default): the writer waits for the slowest live subscriber.
    /// </summary>
    public bool Lossy { get; init; }

    /// <summary>Whether to replace an existing ring of the same name that no live process uses.</summary>
    public bool ReclaimAbandoned { get; init; }

    /// <summary>Checks every option; the message names the option and the bad value.</summary>
    /// <exception cref="ArgumentException">An option is out of range or does not fit the kind.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "RingOptions.Kind must be OneToOne, ManyToOne or Broadcast.");
        }

        if (!RingLayout.IsValidCapacity(Capacity))
        {
            throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity,
                $"RingOptions.Capacity must be a power of two from {RingLayout.MinCapacity} (4 KiB) to {RingLayout.MaxCapacity} (1 GiB); the ring capacity {Capacity} is not.");
        }

        int limit = RingLayout.MaxMessageSizeFor(Capacity);
        if (MaxMessageSize is int max && (max < 1 || max > limit))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), max,
                $"RingOptions.MaxMessageSize must be from 1 to {limit} bytes (capacity / 2 - 8) for a ring of {Capacity} bytes; the maximum message size {max} is not.");
        }

        if (MaxProducers is < 1 or > RingLayout.MaxSlots)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxProducers), MaxProducers, $"RingOptions.MaxProducers must be from 1 to {RingLayout.MaxSlots}.");
        }

        if (MaxSubscribers is < 1 or > RingLayout.MaxSlots)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSubscribers), MaxSubscribers, $"RingOptions.MaxSubscribers must be from 1 to {RingLayout.MaxSlots}.");
        }

        if (Lossy && Kind != RingKind.Broadcast)
        {
            throw new ArgumentException($"RingOptions.Lossy applies to broadcast rings only, not to a {RingDescriptor.Describe(Kind)} ring.", nameof(Lossy));
        }
    }
}

/// <summary>Where a new broadcast subscriber starts reading.</summary>
public enum RingStart
{
    /// <summary>With the next message the writer commits: nothing written before the subscriber attached.</summary>
    Now = 0,

    /// <summary>With the oldest message still in the ring.</summary>
    Oldest = 1,
}

/// <summary>How a writer or reader behaves once attached.</summary>
public sealed class RingEndpointOptions
{
    /// <summary>How to wait for data or space (the default spins, yields, then sleeps).</summary>
    public RingWaitStrategy WaitStrategy { get; init; } = RingWaitStrategy.Hybrid;

    /// <summary>How soon a blocked wait reports a peer that died (default 1 s). Liveness is checked four times per period.</summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a member that waits and is given no timeout waits (for room, for a message, for the ring to appear):
    /// default 30 s; <see cref="Timeout.InfiniteTimeSpan"/> waits without limit.
    /// </summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A broadcast subscriber: whether it starts with the next message (the default) or the oldest one still there.</summary>
    public RingStart StartAt { get; init; } = RingStart.Now;

    /// <summary>
    /// A broadcast writer that waits for subscribers (not lossy): a live subscriber whose position has not moved for this
    /// long while the writer waits for room is dropped (it is told so at its next read). Default 5 s.
    /// </summary>
    public TimeSpan SlowSubscriberTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where attach and detach, departed peers, corruption, skipped holes and dropped subscribers are logged (null: nowhere). Nothing is logged per message.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks every option; the message names the option and the bad value.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(WaitStrategy, nameof(WaitStrategy));
        if (PeerTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PeerTimeout), PeerTimeout, "RingEndpointOptions.PeerTimeout must be positive.");
        }

        if (DefaultTimeout < TimeSpan.Zero && DefaultTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultTimeout), DefaultTimeout, "RingEndpointOptions.DefaultTimeout must be zero or more, or Timeout.InfiniteTimeSpan.");
        }

        if (SlowSubscriberTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SlowSubscriberTimeout), SlowSubscriberTimeout, "RingEndpointOptions.SlowSubscriberTimeout must be positive.");
        }

        if (!Enum.IsDefined(StartAt))
        {
            throw new ArgumentOutOfRangeException(nameof(StartAt), StartAt, "RingEndpointOptions.StartAt must be Now or Oldest.");
        }
    }
}
