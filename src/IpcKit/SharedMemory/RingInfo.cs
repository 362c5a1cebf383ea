namespace IpcKit.SharedMemory;

/// <summary>A snapshot of a ring: its layout, positions, and who is attached (see <see cref="RingBuffer.Inspect"/>).</summary>
public sealed record RingInfo
{
    /// <summary>The ring's name.</summary>
    public required string Name { get; init; }

    /// <summary>The file that holds the ring.</summary>
    public required string Path { get; init; }

    /// <summary>The data area in bytes.</summary>
    public required long Capacity { get; init; }

    /// <summary>The largest payload of one message.</summary>
    public required int MaxMessageSize { get; init; }

    /// <summary>The write position: bytes ever committed, including record headers and padding.</summary>
    public required long WritePosition { get; init; }

    /// <summary>The read position: bytes ever consumed.</summary>
    public required long ReadPosition { get; init; }

    /// <summary>Bytes committed and not yet consumed.</summary>
    public long UsedBytes => WritePosition - ReadPosition;

    /// <summary>The writer's identity line.</summary>
    public required RingPeerInfo Writer { get; init; }

    /// <summary>Whether a live process holds the writer role now.</summary>
    public required bool WriterAlive { get; init; }

    /// <summary>The reader's identity line.</summary>
    public required RingPeerInfo Reader { get; init; }

    /// <summary>Whether a live process holds the reader role now.</summary>
    public required bool ReaderAlive { get; init; }

    /// <summary>The process that created the ring.</summary>
    public required int CreatorProcessId { get; init; }

    /// <summary>When the ring was created (Unix time in milliseconds).</summary>
    public required long CreatedAtUnixMilliseconds { get; init; }
}
