using IpcKit.SharedMemory;
using IpcKit.Tests.SharedMemory;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Library bugs the fuzzers found, each pinned by a direct test (the input itself is replayed from
/// tools/fuzz/regressions by <see cref="FuzzReplayTests"/>).
/// </summary>
public sealed class FuzzFindingsTests : RingTestBase
{
    private const int WritePosition = 128;
    private const int ReadPosition = 256;

    /// <summary>
    /// tools/fuzz/regressions/ring/negative-read-position: a read position of long.MinValue + 2840 and a write position
    /// of 3832. "write - read" overflowed to a negative number, passed "at most one capacity ahead", and the reader
    /// delivered empty records from garbage for some 2^63 bytes: an endless stream of phantom messages.
    /// </summary>
    [Theory]
    [InlineData(long.MinValue + 2840, 3832L)]
    [InlineData(-8L, 0L)]
    [InlineData(-4096L, 0L)]
    public void A_negative_read_position_is_corruption_for_the_reader_and_the_writer(long read, long write)
    {
        string name = CreateRing(4096);
        using (var raw = new RawRing(name))
        {
            raw.Write(ReadPosition, read);
            raw.Write(WritePosition, write);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("negative", exception.Message, StringComparison.Ordinal);
        Assert.Equal(read, exception.Position);
        Assert.Throws<IpcCorruptionException>(() => RingWriter.Attach(name));
    }

    [Fact]
    public void A_write_position_that_turns_negative_under_a_live_reader_is_corruption()
    {
        string name = CreateRing(4096);
        using RingReader reader = RingReader.Attach(name);
        using (var raw = new RawRing(name))
        {
            raw.Write(WritePosition, long.MinValue + 8);
        }

        Assert.Throws<IpcCorruptionException>(() => reader.Drain(static (_, _) => { }));
    }
}
