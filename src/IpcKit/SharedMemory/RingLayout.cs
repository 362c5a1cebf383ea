namespace IpcKit.SharedMemory;

/// <summary>
/// The byte layout of a ring file: a header followed by the data area. docs/ring-format.md is the full specification;
/// this type is the same layout as code. All integers are little-endian.
/// </summary>
/// <remarks>
/// <code>
///   0 +--------------------------------------------------------------+ descriptor (written once, by the creator)
///     | magic "IPCKRING" u64 | version u32 | header size u32           |   magic and version are written last
///     | capacity u64 | max message u32 | flags u32                     |   flags: bit 0 lossy (broadcast)
///     | created at (unix ms) i64 | creator pid i32 | kind i32          |   kind: 0 one-to-one, 1 many-to-one, 2 broadcast
///     | slots i32                                                    |   producer or subscriber slots (version 2)
/// 128 +--------------------------------------------------------------+ written by the writer (many-to-one: producers, by CAS)
///     | write position i64 | messages written i64 (broadcast)        |
/// 256 +--------------------------------------------------------------+ written only by the reader (one-to-one, many-to-one)
///     | read position i64 (everything before it is consumed)         |
/// 384 +--------------------------------------------------------------+
///     | reader sleeping i32: 1 while the reader waits on "~rd"       |
/// 512 +--------------------------------------------------------------+
///     | writer sleeping i32: 1 while the writer waits on "~rs"       |
/// 640 +--------------------------------------------------------------+ writer identity (lock byte 640)
///     | state i32 | pid i32 | start time i64 | heartbeat i64 | generation i32 | flags i32 |
/// 768 +--------------------------------------------------------------+ reader identity (lock byte 768)
///     | state i32 | pid i32 | start time i64 | heartbeat i64 | generation i32 | flags i32 | holes skipped i64 |
/// 896 +--------------------------------------------------------------+ broadcast: overwrite limit i64
///1024 +--------------------------------------------------------------+ version 2: sleeping slots u64 (bit per slot)
///1152 +--------------------------------------------------------------+ broadcast: 16 checkpoints (position i64, sequence i64)
///1408 +--------------------------------------------------------------+ reserved, zero
///4096 +--------------------------------------------------------------+ version 2: slots, 128 bytes each (lock byte = first byte)
///     | state i32 | pid i32 | start time i64 | heartbeat i64 | generation i32 | flags i32 |
///     | position i64 | messages i64 | lost i64 | claimed up to i64     |
///  H  +--------------------------------------------------------------+ data: capacity bytes of records (H = header size)
///     | length i32 | type i32 | payload ... | 0-7 bytes to a multiple of 8 |
/// </code>
/// Each hot counter has a 128-byte line of its own (two 64-byte cache lines, so the adjacent-line prefetcher
/// does not make the writer and the reader fight over one pair).
/// </remarks>
internal static class RingLayout
{
    /// <summary>"IPCKRING" read as a little-endian u64.</summary>
    internal const ulong Magic = 0x474E_4952_4B43_5049;

    /// <summary>The layout of a one-to-one ring, unchanged since the first release (today's C peers read it).</summary>
    internal const int Version = 1;

    /// <summary>The layout of the kinds added later (many-to-one, broadcast): a peer that knows only version 1 refuses them.</summary>
    internal const int SlottedVersion = 2;

    internal const int HeaderSize = 4096;
    internal const int LineSize = 128;

    internal const long MinCapacity = 4096;
    internal const long MaxCapacity = 1L << 30;

    /// <summary>The most producer or subscriber slots a ring can have (one bit each in the sleeping mask).</summary>
    internal const int MaxSlots = 64;

    internal const int MagicOffset = 0;
    internal const int VersionOffset = 8;
    internal const int HeaderSizeOffset = 12;
    internal const int CapacityOffset = 16;
    internal const int MaxMessageSizeOffset = 24;
    internal const int FlagsOffset = 28;
    internal const int CreatedAtOffset = 32;
    internal const int CreatorPidOffset = 40;
    internal const int KindOffset = 44;
    internal const int SlotsOffset = 48;

    /// <summary>Flags bit 0: a broadcast ring whose writer never waits for subscribers.</summary>
    internal const int LossyFlag = 1;

    internal const int WritePositionOffset = 128;
    internal const int MessagesWrittenOffset = 136;
    internal const int ReadPositionOffset = 256;
    internal const int ReaderSleepingOffset = 384;
    internal const int WriterSleepingOffset = 512;
    internal const int WriterIdentityOffset = 640;
    internal const int ReaderIdentityOffset = 768;
    internal const int HolesSkippedOffset = ReaderIdentityOffset + 32;
    internal const int OverwriteLimitOffset = 896;
    internal const int SleepingSlotsOffset = 1024;
    internal const int CheckpointsOffset = 1152;
    internal const int CheckpointCount = 16;
    internal const int CheckpointSize = 16;

    /// <summary>Checkpoints per lap of the data area: one every capacity / 8 bytes.</summary>
    internal const int CheckpointsPerLap = 8;

    internal const int SlotsStart = 4096;
    internal const int SlotSize = LineSize;

    // Offsets inside an identity line (the writer's, the reader's, or a slot).
    internal const int StateField = 0;
    internal const int PidField = 4;
    internal const int StartTimeField = 8;
    internal const int HeartbeatField = 16;
    internal const int GenerationField = 24;
    internal const int IdentityFlagsField = 28;

    // Further offsets inside a slot.
    internal const int SlotPositionField = 32;
    internal const int SlotMessagesField = 40;
    internal const int SlotLostField = 48;
    internal const int SlotClaimedUpToField = 56;

    /// <summary>Record header: i32 payload length, then i32 type.</summary>
    internal const int RecordHeaderSize = 8;
    internal const int RecordAlignment = 8;
    internal const int TypeFieldOffset = 4;

    /// <summary>The type of a padding record, which fills the space from its header to the end of the data area.</summary>
    internal const int PaddingType = -1;

    /// <summary>The bytes a record with <paramref name="payloadLength"/> bytes of payload occupies.</summary>
    internal static long RecordSize(long payloadLength) => (payloadLength + RecordHeaderSize + RecordAlignment - 1) & ~(long)(RecordAlignment - 1);

    /// <summary>
    /// The largest payload a ring of <paramref name="capacity"/> can take. A record of up to half the capacity always
    /// fits once the ring drains, wherever the write position is: if it does not fit before the end, the end lies
    /// past the middle and the padding plus the record still fit in one capacity.
    /// </summary>
    internal static int MaxMessageSizeFor(long capacity) => (int)Math.Min(capacity / 2 - RecordHeaderSize, int.MaxValue - 64);

    internal static bool IsValidCapacity(long capacity) =>
        capacity >= MinCapacity && capacity <= MaxCapacity && (capacity & (capacity - 1)) == 0;

    /// <summary>The header size of a ring of <paramref name="kind"/> with <paramref name="slots"/> slots: 4096, plus the slots in whole pages.</summary>
    internal static int HeaderSizeFor(RingKind kind, int slots) =>
        kind == RingKind.OneToOne ? HeaderSize : HeaderSize + (((slots * SlotSize) + 4095) & ~4095);

    /// <summary>The offset of slot <paramref name="slot"/>'s line (its first byte is also its lock byte).</summary>
    internal static int SlotOffset(int slot) => SlotsStart + (slot * SlotSize);
}

/// <summary>The shape of a ring: who writes and who reads.</summary>
public enum RingKind
{
    /// <summary>One writer process, one reader process (single-producer, single-consumer).</summary>
    OneToOne = 0,

    /// <summary>Any number of writer processes, one reader process; each writer's messages keep their order.</summary>
    ManyToOne = 1,

    /// <summary>One writer process, any number of reader processes (subscribers), each of which receives every message.</summary>
    Broadcast = 2,
}

/// <summary>Where a writer or reader stands with a ring, as recorded in its identity line.</summary>
public enum RingPeerState
{
    /// <summary>Nobody ever attached in this role.</summary>
    None = 0,

    /// <summary>A process attached and has not detached (it may have died since: see the liveness check).</summary>
    Attached = 1,

    /// <summary>The last process in this role detached in an orderly way.</summary>
    Detached = 2,

    /// <summary>A broadcast subscriber the writer dropped because it stopped reading for longer than the writer's limit.</summary>
    Dropped = 3,
}
