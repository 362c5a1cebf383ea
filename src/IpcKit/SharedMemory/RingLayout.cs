namespace IpcKit.SharedMemory;

/// <summary>
/// The byte layout of a ring file: a 4 KiB header followed by the data area. docs/ring-format.md is the full
/// specification; this type is the same layout as code. All integers are little-endian.
/// </summary>
/// <remarks>
/// <code>
///   0 +--------------------------------------------------------------+ descriptor (written once, by the creator)
///     | magic "IPCKRING" u64 | version u32 | header size u32           |   magic and version are written last
///     | capacity u64 | max message u32 | flags u32                     |
///     | created at (unix ms) i64 | creator pid i32                     |
/// 128 +--------------------------------------------------------------+ written only by the writer
///     | write position i64 (the commit point, stored with release)   |
/// 256 +--------------------------------------------------------------+ written only by the reader
///     | read position i64 (everything before it is consumed)         |
/// 384 +--------------------------------------------------------------+
///     | reader sleeping i32: 1 while the reader waits on "~rd"       |
/// 512 +--------------------------------------------------------------+
///     | writer sleeping i32: 1 while the writer waits on "~rs"       |
/// 640 +--------------------------------------------------------------+ writer identity (lock byte 640)
///     | state i32 | pid i32 | start time i64 | heartbeat i64 | generation i32 |
/// 768 +--------------------------------------------------------------+ reader identity (lock byte 768)
///     | state i32 | pid i32 | start time i64 | heartbeat i64 | generation i32 |
/// 896 +--------------------------------------------------------------+ reserved, zero
///4096 +--------------------------------------------------------------+ data: capacity bytes of records
///     | length i32 | type i32 | payload ... | 0-7 bytes to a multiple of 8 |
/// </code>
/// Each hot counter has a 128-byte line of its own (two 64-byte cache lines, so the adjacent-line prefetcher
/// does not make the writer and the reader fight over one pair).
/// </remarks>
internal static class RingLayout
{
    /// <summary>"IPCKRING" read as a little-endian u64.</summary>
    internal const ulong Magic = 0x474E_4952_4B43_5049;

    internal const int Version = 1;
    internal const int HeaderSize = 4096;
    internal const int LineSize = 128;

    internal const long MinCapacity = 4096;
    internal const long MaxCapacity = 1L << 30;

    internal const int MagicOffset = 0;
    internal const int VersionOffset = 8;
    internal const int HeaderSizeOffset = 12;
    internal const int CapacityOffset = 16;
    internal const int MaxMessageSizeOffset = 24;
    internal const int FlagsOffset = 28;
    internal const int CreatedAtOffset = 32;
    internal const int CreatorPidOffset = 40;

    internal const int WritePositionOffset = 128;
    internal const int ReadPositionOffset = 256;
    internal const int ReaderSleepingOffset = 384;
    internal const int WriterSleepingOffset = 512;
    internal const int WriterIdentityOffset = 640;
    internal const int ReaderIdentityOffset = 768;

    // Offsets inside an identity line.
    internal const int StateField = 0;
    internal const int PidField = 4;
    internal const int StartTimeField = 8;
    internal const int HeartbeatField = 16;
    internal const int GenerationField = 24;

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
}
