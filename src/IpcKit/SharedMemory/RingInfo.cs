namespace IpcKit.SharedMemory;

/// <summary>A snapshot of a ring: its layout, positions, and who is attached (see <see cref="RingBuffer.Inspect"/>).</summary>
public sealed record RingInfo
{
    /// <summary>The ring's name.</summary>
    public required string Name { get; init; }

    /// <summary>The file that holds the ring.</summary>
    public required string Path { get; init; }

    /// <summary>Who writes and who reads.</summary>
    public required RingKind Kind { get; init; }

    /// <summary>A broadcast ring whose writer never waits for subscribers.</summary>
    public required bool Lossy { get; init; }

    /// <summary>The data area in bytes.</summary>
    public required long Capacity { get; init; }

    /// <summary>The largest body of one message.</summary>
    public required int MaxMessageSize { get; init; }

    /// <summary>How many writers (many-to-one) or subscribers (broadcast) can be attached at once; 0 for one-to-one.</summary>
    public required int MaxSlots { get; init; }

    /// <summary>The write position: bytes ever committed (or claimed, many-to-one), including record headers and padding.</summary>
    public required long WritePosition { get; init; }

    /// <summary>The read position: bytes ever consumed (broadcast: by the slowest live subscriber).</summary>
    public required long ReadPosition { get; init; }

    /// <summary>Bytes committed and not yet consumed.</summary>
    public long UsedBytes => WritePosition - ReadPosition;

    /// <summary>The writer's identity line (one-to-one and broadcast rings).</summary>
    public required RingPeerInfo Writer { get; init; }

    /// <summary>Whether a live process holds the writer role now.</summary>
    public required bool WriterAlive { get; init; }

    /// <summary>The reader's identity line (one-to-one and many-to-one rings).</summary>
    public required RingPeerInfo Reader { get; init; }

    /// <summary>Whether a live process holds the reader role now.</summary>
    public required bool ReaderAlive { get; init; }

    /// <summary>The writers of a many-to-one ring or the subscribers of a broadcast ring that ever attached, by slot.</summary>
    public required IReadOnlyList<RingSlotInfo> Slots { get; init; }

    /// <summary>Claims of dead writers the reader of a many-to-one ring skipped.</summary>
    public required long HolesSkipped { get; init; }

    /// <summary>Messages a broadcast ring carried since it was created (null for other kinds).</summary>
    public required long? MessagesWritten { get; init; }

    /// <summary>The process that created the ring.</summary>
    public required int CreatorProcessId { get; init; }

    /// <summary>When the ring was created (Unix time in milliseconds).</summary>
    public required long CreatedAtUnixMilliseconds { get; init; }
}

/// <summary>One writer slot of a many-to-one ring or subscriber slot of a broadcast ring.</summary>
/// <param name="Slot">The slot's number.</param>
/// <param name="Peer">Its identity line: state, process, heartbeat.</param>
/// <param name="Alive">Whether a live process holds it now.</param>
/// <param name="Position">A subscriber's read position.</param>
/// <param name="Messages">Messages a subscriber consumed (its sequence number).</param>
/// <param name="Lost">Messages a subscriber lost because the writer overtook it.</param>
public readonly record struct RingSlotInfo(int Slot, RingPeerInfo Peer, bool Alive, long Position, long Messages, long Lost);

/// <summary>A message copied out of a ring without consuming it (see <see cref="RingBuffer.Peek"/>).</summary>
/// <param name="Position">The record's position.</param>
/// <param name="Message">Its type id and a copy of its body.</param>
public readonly record struct RingPeekedMessage(long Position, IpcMessage Message);
