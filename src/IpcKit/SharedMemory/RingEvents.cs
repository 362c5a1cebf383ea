namespace IpcKit.SharedMemory;

/// <summary>A many-to-one reader skipped a claim whose writer died between claiming room and committing it.</summary>
/// <param name="position">Where the claim started.</param>
/// <param name="bytes">The bytes the claim covered (none of them delivered).</param>
/// <param name="slot">The writer slot that made the claim.</param>
public sealed class RingHoleSkippedEventArgs(long position, long bytes, int slot) : EventArgs
{
    /// <summary>Where the claim started.</summary>
    public long Position { get; } = position;

    /// <summary>The bytes the claim covered.</summary>
    public long Bytes { get; } = bytes;

    /// <summary>The writer slot that made the claim.</summary>
    public int Slot { get; } = slot;
}

/// <summary>The writer of a lossy broadcast ring overtook a subscriber, which resumed at the oldest message still there.</summary>
/// <param name="position">The subscriber's position when it found itself overtaken.</param>
/// <param name="resumedAt">Where it resumed.</param>
/// <param name="lost">How many messages it lost.</param>
public sealed class RingLappedEventArgs(long position, long resumedAt, long lost) : EventArgs
{
    /// <summary>The subscriber's position when it found itself overtaken.</summary>
    public long Position { get; } = position;

    /// <summary>Where it resumed.</summary>
    public long ResumedAt { get; } = resumedAt;

    /// <summary>How many messages it lost.</summary>
    public long Lost { get; } = lost;
}

/// <summary>A broadcast writer dropped a subscriber.</summary>
/// <param name="slot">The subscriber's slot.</param>
/// <param name="processId">Its process.</param>
/// <param name="reason">Why: it died, or it stopped reading for longer than the writer's limit.</param>
public sealed class RingSubscriberDroppedEventArgs(int slot, int processId, string reason) : EventArgs
{
    /// <summary>The subscriber's slot.</summary>
    public int Slot { get; } = slot;

    /// <summary>Its process.</summary>
    public int ProcessId { get; } = processId;

    /// <summary>Why it was dropped.</summary>
    public string Reason { get; } = reason;
}
