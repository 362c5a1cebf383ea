using CsCheck;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>
/// Another process may write anything into the ring file. These tests write what a hostile or broken peer could
/// and check the reader and writer answer with <see cref="IpcCorruptionException"/> (naming the position), never
/// with a crash, an out-of-bounds read or an endless loop.
/// </summary>
public sealed class RingCorruptionTests : RingTestBase
{
    private const long Capacity = 4096;
    private const int Data = 4096;
    private const int WritePosition = 128;
    private const int ReadPosition = 256;

    [Theory]
    [InlineData(0, 0x1122334455667788L, "does not start with the ring magic")]
    [InlineData(8, 99L, "layout version 99")]
    [InlineData(16, 3000L, "invalid capacity 3000")]
    [InlineData(16, 8192L, "invalid capacity 8192")]
    [InlineData(24, 0L, "invalid maximum message size 0")]
    [InlineData(24, 4000L, "invalid maximum message size 4000")]
    public void A_bad_descriptor_is_refused_with_a_clear_error(int offset, long value, string expected)
    {
        string name = CreateRing(Capacity);
        using (var raw = new RawRing(name))
        {
            if (offset == 0 || offset == 16)
            {
                raw.Write(offset, value);
            }
            else
            {
                raw.Write(offset, (int)value);
            }
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.Throws<IpcCorruptionException>(() => RingWriter.Attach(name));
        Assert.Throws<IpcCorruptionException>(() => RingBuffer.Inspect(name));
    }

    [Fact]
    public void A_file_that_is_not_a_ring_is_refused()
    {
        string name = NewName();
        File.WriteAllBytes(IpcName.GetRingPath(name), new byte[100]);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(IpcName.GetRingPath(name), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("not an IpcKit ring", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ring_whose_creator_never_wrote_the_magic_is_refused_after_a_short_grace()
    {
        string name = CreateRing(Capacity);
        using (var raw = new RawRing(name))
        {
            raw.Write(0, 0L);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("never finished", exception.Message, StringComparison.Ordinal);
        Assert.True(RingBuffer.IsAbandoned(name));
    }

    [Theory]
    [InlineData(Capacity + 8, "write position 4104")]
    [InlineData(12, "not a multiple of 8")]
    [InlineData(-8, "write position -8")]
    public void A_bad_write_position_is_reported_with_the_read_position(long writePosition, string expected)
    {
        string name = CreateRing(Capacity);
        using RingReader reader = RingReader.Attach(name);
        using (var raw = new RawRing(name))
        {
            raw.Write(WritePosition, writePosition);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => reader.HasData());
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.Equal(0, exception.Position);
    }

    [Theory]
    [InlineData(5000, 0, "record length of 5000")]
    [InlineData(-1000, 0, "record length of -1000")]
    [InlineData(2040, 0, "past the write position")]
    [InlineData(100, 2, "padding record")]
    public void A_bad_record_is_reported_at_its_position(int length, int type, string expected)
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.True(writer.TrySendRaw(Payload(0, 16)));
        Assert.True(writer.TrySendRaw(Payload(1, 16)));
        Assert.Equal(1, reader.Drain(static (_, _) => { }, maxMessages: 1));

        using (var raw = new RawRing(name))
        {
            raw.Write(Data + 24, length);
            if (type == 2)
            {
                raw.Write(Data + 24 + 4, -1);
            }
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => reader.Drain(static (_, _) => { }));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.Equal(24, exception.Position);

        // The reader stays in a defined state: it reports the same corruption again instead of reading garbage.
        Assert.Throws<IpcCorruptionException>(() => reader.TryRead(new byte[64], out _, out _));
    }

    [Fact]
    public void A_record_that_would_cross_the_end_is_reported()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.True(writer.TrySendRaw(new byte[1992]));
        Assert.True(writer.TrySendRaw(new byte[1992]));
        Assert.Equal(2, reader.Drain(static (_, _) => { }));
        Assert.True(writer.TrySendRaw(new byte[80]));

        // Rewrite the 80-byte record at 4000 as a 200-byte one: it would run past the end of the data area.
        using (var raw = new RawRing(name))
        {
            raw.Write(WritePosition, 4000L + 96 + 208);
            raw.Write(Data + 4000, 200);
            raw.Write(Data + 4000 + 4, 0);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => reader.Drain(static (_, _) => { }));
        Assert.Contains("cross the end", exception.Message, StringComparison.Ordinal);
        Assert.Equal(4000, exception.Position);
    }

    [Fact]
    public void A_writer_refuses_a_read_position_that_moved_backwards_or_past_its_own()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        while (writer.TrySendRaw(new byte[500]))
        {
        }

        using (var raw = new RawRing(name))
        {
            raw.Write(ReadPosition, 1L << 40);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => writer.TrySendRaw(new byte[500]));
        Assert.Contains("reader's position", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_anywhere_in_the_data_area_and_positions_never_escapes_as_anything_but_corruption()
    {
        Gen.Select(Gen.Byte.Array[(int)Capacity], Gen.Long[0, Capacity / 8], Gen.Long[0, 3]).Sample(sample =>
        {
            (byte[] garbage, long words, long lap) = sample;
            string name = CreateRing(Capacity);
            using (var raw = new RawRing(name))
            {
                for (int i = 0; i < garbage.Length; i += 8)
                {
                    raw.Write(Data + i, BitConverter.ToInt64(garbage, i));
                }

                // A write position anywhere in the valid window, so the reader has to look at the garbage.
                raw.Write(WritePosition, (lap * Capacity) + (words * 8));
                raw.Write(ReadPosition, lap * Capacity);
            }

            using (RingReader reader = RingReader.Attach(name))
            {
                byte[] buffer = new byte[reader.MaxMessageSize];
                try
                {
                    // Each record consumes at least 8 bytes, so at most capacity / 8 reads can succeed.
                    for (int i = 0; i <= Capacity / 8 && reader.TryRead(buffer, out int length, out _); i++)
                    {
                        Assert.InRange(length, 0, reader.MaxMessageSize);
                    }
                }
                catch (IpcCorruptionException exception)
                {
                    Assert.InRange(exception.Position, lap * Capacity, (lap * Capacity) + (words * 8));
                }
            }

            RingBuffer.Delete(name);
        }, iter: 300);
    }
}
