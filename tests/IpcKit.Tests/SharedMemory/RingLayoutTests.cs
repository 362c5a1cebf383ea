using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>The record layout and the write protocol, in one process (writer and reader are separate open files).</summary>
public sealed class RingLayoutTests : RingTestBase
{
    private const long Capacity = 4096;
    private const int HeaderSize = 4096;
    private const int WritePositionOffset = 128;

    [Fact]
    public void Every_write_offset_wraps_with_exactly_one_padding_record_when_needed()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        int[] sizes = [0, 1, 7, 8, 9, 100, 1000, writer.MaxMessageSize];
        long sequence = 0;

        // Step the write position through every 8-byte offset of the data area; at each, write each size.
        for (int step = 0; step < Capacity / 8; step++)
        {
            foreach (int size in sizes)
            {
                long before = RingBuffer.Inspect(name).WritePosition;
                long offset = before % Capacity;
                long record = (size + 8 + 7) / 8 * 8;
                long expected = record <= Capacity - offset ? record : Capacity - offset + record;
                byte[] payload = Payload(sequence, size);

                Assert.True(writer.TrySendRaw(payload, typeId: size + 1));
                Assert.Equal(before + expected, RingBuffer.Inspect(name).WritePosition);

                Assert.True(reader.TryRead(new byte[writer.MaxMessageSize], out int length, out int type));
                Assert.Equal(size, length);
                Assert.Equal(size + 1, type);
                sequence++;
            }

            // An empty message is an 8-byte record: it moves the write position to the next offset.
            Assert.True(writer.TrySendRaw([]));
            Assert.Equal(1, reader.Drain(static (_, _) => { }));
        }

        Assert.False(reader.HasData());
    }

    [Fact]
    public void Payload_bytes_survive_the_wrap()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        byte[] buffer = new byte[Capacity];
        for (long sequence = 0; sequence < 500; sequence++)
        {
            int size = 8 + (int)(sequence * 37 % 900);
            Assert.True(writer.TrySendRaw(Payload(sequence, size)));
            Assert.True(reader.TryRead(buffer, out int length, out _));
            Assert.Equal(size, length);
            Assert.Equal(sequence, IpcKit.Tests.Child.RingScenarios.Check(buffer.AsSpan(0, length)));
        }
    }

    [Fact]
    public void An_exactly_full_ring_refuses_one_more_byte_and_takes_it_after_a_read()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);

        // 64 records of 64 bytes (56 payload + 8 header) fill 4096 bytes exactly.
        for (int i = 0; i < 64; i++)
        {
            Assert.True(writer.TrySendRaw(Payload(i, 56)), $"write {i}");
        }

        RingInfo full = RingBuffer.Inspect(name);
        Assert.Equal(Capacity, full.UsedBytes);
        Assert.False(writer.TrySendRaw([]));
        Assert.Equal(Capacity, RingBuffer.Inspect(name).UsedBytes);

        Assert.Equal(1, reader.Drain(static (_, _) => { }, maxMessages: 1));
        Assert.False(writer.TrySendRaw(Payload(64, 57)), "57 bytes need a 72-byte record; only 64 are free.");
        Assert.True(writer.TrySendRaw(Payload(64, 56)));
        Assert.Equal(Capacity, RingBuffer.Inspect(name).UsedBytes);

        var sequences = new List<long>();
        reader.Drain(sequences, static (list, payload, _) => list.Add(IpcKit.Tests.Child.RingScenarios.Check(payload)));
        Assert.Equal(Enumerable.Range(1, 64).Select(i => (long)i), sequences);
    }

    [Fact]
    public void The_maximum_message_fits_and_one_byte_more_is_refused_without_touching_the_ring()
    {
        string name = CreateRing(Capacity, maxMessageSize: 1000);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.Equal(1000, writer.MaxMessageSize);

        Assert.True(writer.TrySendRaw(Payload(1, 1000)));
        long position = RingBuffer.Inspect(name).WritePosition;

        var exception = Assert.Throws<ArgumentException>(() => writer.TrySendRaw(new byte[1001]));
        Assert.Contains("1001", exception.Message, StringComparison.Ordinal);
        Assert.Contains("1000", exception.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => writer.TryClaim(1001, out _));
        Assert.Throws<ArgumentException>(() => writer.TrySendRaw(new byte[5000], timeout: TestTimeouts.Expected));
        Assert.Equal(position, RingBuffer.Inspect(name).WritePosition);

        byte[] buffer = new byte[1000];
        Assert.True(reader.TryRead(buffer, out int length, out _));
        Assert.Equal(1000, length);
        Assert.False(reader.HasData());
    }

    [Fact]
    public void The_largest_possible_message_is_half_the_capacity_and_always_fits_once_the_ring_drains()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.Equal((int)(Capacity / 2 - 8), writer.MaxMessageSize);

        // Wherever the write position is, an empty ring takes the largest message (with padding if needed).
        for (int step = 0; step < Capacity / 8; step++)
        {
            Assert.True(writer.TrySendRaw(new byte[writer.MaxMessageSize]), $"step {step}");
            Assert.Equal(1, reader.Drain(static (_, _) => { }));
            Assert.True(writer.TrySendRaw([]));
            Assert.Equal(1, reader.Drain(static (_, _) => { }));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => RingBuffer.Create(NewName(), new RingOptions { Capacity = Capacity, MaxMessageSize = (int)(Capacity / 2) }));
    }

    [Fact]
    public void A_claim_is_invisible_until_committed_and_its_length_is_written_at_commit()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        using var raw = new RawRing(name);

        Assert.True(writer.TryClaim(100, out RingClaim claim));
        claim.Span.Fill(0xAB);

        // Not published: the write position has not moved, the record header holds no length yet.
        Assert.Equal(0, raw.ReadInt64(WritePositionOffset));
        Assert.Equal(0, raw.ReadInt32(HeaderSize));
        Assert.False(reader.HasData());
        Assert.Throws<InvalidOperationException>(() => writer.TrySendRaw([1]));

        claim.Commit(60, typeId: 7);
        Assert.Equal(60, raw.ReadInt32(HeaderSize));
        Assert.Equal(7, raw.ReadInt32(HeaderSize + 4));
        Assert.Equal(72, raw.ReadInt64(WritePositionOffset));
        bool threw = false;
        try
        {
            claim.Commit();
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        Assert.True(threw, "A second commit of the same claim must fail.");

        byte[] buffer = new byte[100];
        Assert.True(reader.TryRead(buffer, out int length, out int type));
        Assert.Equal(60, length);
        Assert.Equal(7, type);
        Assert.All(buffer[..60], b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void An_aborted_claim_publishes_nothing_and_its_room_is_reused()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);

        Assert.True(writer.TryClaim(2000, out RingClaim claim));
        claim.Span.Fill(1);
        claim.Abort();
        bool threw = false;
        try
        {
            claim.Abort();
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        Assert.True(threw, "A second abort of the same claim must fail.");
        Assert.False(reader.HasData());
        Assert.Equal(0, RingBuffer.Inspect(name).WritePosition);

        Assert.True(writer.TrySendRaw(Payload(5, 16)));
        byte[] buffer = new byte[16];
        Assert.True(reader.TryRead(buffer, out _, out _));
        Assert.Equal(5, IpcKit.Tests.Child.RingScenarios.Check(buffer));
    }

    [Fact]
    public void Padding_is_written_at_the_end_and_never_delivered()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        using var raw = new RawRing(name);

        // 4000 bytes of records, then a 200-byte message that does not fit in the 96 bytes left before the end.
        Assert.True(writer.TrySendRaw(new byte[1992]));
        Assert.True(writer.TrySendRaw(new byte[1992]));
        Assert.Equal(2, reader.Drain(static (_, _) => { }));
        Assert.True(writer.TrySendRaw(Payload(9, 200), typeId: 3));

        Assert.Equal(96 - 8, raw.ReadInt32(HeaderSize + 4000));
        Assert.Equal(-1, raw.ReadInt32(HeaderSize + 4000 + 4));
        Assert.Equal(200, raw.ReadInt32(HeaderSize));
        Assert.Equal(4000 + 96 + 208, raw.ReadInt64(WritePositionOffset));

        var types = new List<int>();
        reader.Drain(types, static (list, _, type) => list.Add(type));
        Assert.Equal([3], types);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.TrySendRaw([1], typeId: -1));
    }

    [Fact]
    public void ReadBatch_hands_out_messages_in_place_and_frees_their_room_at_the_end()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(writer.TrySendRaw(Payload(i, 24), typeId: i));
        }

        int seen = 0;
        foreach (RingRecord record in reader.ReadBatch(maxMessages: 4))
        {
            Assert.Equal(seen, IpcKit.Tests.Child.RingScenarios.Check(record.Body));
            Assert.Equal(seen, record.TypeId);
            seen++;
        }

        Assert.Equal(4, seen);
        Assert.Equal(4 * 32, RingBuffer.Inspect(name).ReadPosition);
        foreach (RingRecord record in reader.ReadBatch())
        {
            Assert.Equal(seen++, IpcKit.Tests.Child.RingScenarios.Check(record.Body));
        }

        Assert.Equal(10, seen);
        Assert.Equal(10 * 32, RingBuffer.Inspect(name).ReadPosition);
    }

    [Fact]
    public void A_throwing_handler_consumes_the_messages_before_it_but_not_its_own()
    {
        string name = CreateRing(Capacity);
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(writer.TrySendRaw(Payload(i, 16)));
        }

        var seen = new List<long>();
        Assert.Throws<InvalidOperationException>(() => reader.Drain(seen, static (list, payload, _) =>
        {
            long sequence = IpcKit.Tests.Child.RingScenarios.Check(payload);
            if (sequence == 2)
            {
                throw new InvalidOperationException("handler failed");
            }

            list.Add(sequence);
        }));

        Assert.Equal([0, 1], seen);
        reader.Drain(seen, static (list, payload, _) => list.Add(IpcKit.Tests.Child.RingScenarios.Check(payload)));
        Assert.Equal([0, 1, 2, 3, 4], seen);
    }
}
