using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory.Protocol;

/// <summary>
/// The one-to-one protocol on process memory (no file, no second process): the commit order replayed store by store,
/// and every check at its exact boundary (docs/ring-format.md, "Writing" and "Reading").
/// </summary>
public sealed unsafe class OneToOneProtocolTests
{
    private const long Capacity = 4096;

    [Theory]
    [InlineData(0, 40)]
    [InlineData(1024, 0)]
    [InlineData(4000, 40)]
    [InlineData(4000, 88)]
    [InlineData(4088, 8)]
    public void Every_prefix_of_a_commit_shows_a_reader_nothing_or_the_whole_record(int startOffset, int length)
    {
        using TestRing ring = TestRing.OneToOne(Capacity);
        long start = Capacity + startOffset;
        byte[] before = MoveTo(ring, start);
        byte[] body = [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 3))];

        var log = new StoreLog();
        var writer = new OneToOneWriteCursor<RecordingMemory>(new RecordingMemory(ring.Base, log), ring.Descriptor, "Ring 'test'");
        byte* target = writer.TryReserve(length);
        Assert.True(target != null);
        body.CopyTo(new Span<byte>(target, length));
        log.AddBody(target - ring.Base, body);
        writer.Commit(length, 7);

        int publish = log.Stores.FindLastIndex(store => store.Offset == RingLayout.WritePositionOffset);
        Assert.Equal(log.Stores.Count - 1, publish);
        for (int count = 0; count <= log.Stores.Count; count++)
        {
            ring.Restore(log.Replay(before, count));
            List<(byte[] Body, int TypeId, long Position)> seen = ring.OneToOneReader().Drain();
            if (count <= publish)
            {
                Assert.Empty(seen);
            }
            else
            {
                (byte[] received, int typeId, _) = Assert.Single(seen);
                Assert.Equal(body, received);
                Assert.Equal(7, typeId);
            }
        }
    }

    [Fact]
    public void The_record_header_is_stored_before_the_write_position_and_the_length_last_of_the_header()
    {
        using TestRing ring = TestRing.OneToOne(Capacity);
        var log = new StoreLog();
        var writer = new OneToOneWriteCursor<RecordingMemory>(new RecordingMemory(ring.Base, log), ring.Descriptor, "Ring 'test'");
        Assert.True(writer.TrySend(new byte[10], 5));

        Assert.Equal(
            [(ring.Data + 4, "store"), (ring.Data, "release"), (RingLayout.WritePositionOffset, "exchange")],
            log.Stores.Select(s => (s.Offset, s.Kind)));
    }

    [Fact]
    public void A_record_length_of_the_maximum_is_delivered_and_one_byte_more_is_corruption()
    {
        using TestRing ring = TestRing.OneToOne(Capacity, maxMessageSize: 100);
        OneToOneWriteCursor<RingMemory> writer = ring.OneToOneWriter();
        Assert.True(writer.TrySend(new byte[100]));
        Assert.Single(ring.OneToOneReader().Drain());

        // A hostile writer claims one byte more than the maximum (the record still fits below the write position).
        Assert.True(writer.TrySend(new byte[100]));
        long record = ring.Data + RingLayout.RecordSize(100);
        ring.Write(record, 101);
        ring.Write(RingLayout.WritePositionOffset, RingLayout.RecordSize(100) + RingLayout.RecordSize(101));
        var refused = Assert.Throws<IpcCorruptionException>(() => ring.OneToOneReader().Drain());
        Assert.Contains("record length of 101 is outside 0..100", refused.Message, StringComparison.Ordinal);
        Assert.Equal(RingLayout.RecordSize(100), refused.Position);
    }

    [Fact]
    public void A_writer_refuses_a_read_position_one_step_backwards_and_one_step_past_its_own()
    {
        using TestRing ring = TestRing.OneToOne(Capacity);
        OneToOneWriteCursor<RingMemory> writer = ring.OneToOneWriter();
        OneToOneReadCursor<RingMemory> reader = ring.OneToOneReader();
        while (writer.TrySend(new byte[500]))
        {
        }

        Assert.Equal(2, reader.Drain(2).Count);
        Assert.True(writer.RefreshHead());
        long head = ring.ReadInt64(RingLayout.ReadPositionOffset);
        Assert.Equal(2 * 512, head);

        byte[] full = Fill(ring, writer);
        ring.Write(RingLayout.ReadPositionOffset, head - 8);
        var backwards = Assert.Throws<IpcCorruptionException>(() => writer.TryReserve(500));
        Assert.Contains($"reader's position {head - 8} is not between its previous value {head}", backwards.Message, StringComparison.Ordinal);

        ring.Restore(full);
        long tail = ring.ReadInt64(RingLayout.WritePositionOffset);
        ring.Write(RingLayout.ReadPositionOffset, tail + 8);
        var past = Assert.Throws<IpcCorruptionException>(() => writer.TryReserve(500));
        Assert.Contains($"and the write position {tail}", past.Message, StringComparison.Ordinal);

        // The exact values at the edges are accepted: the same position again, and the write position itself.
        ring.Write(RingLayout.ReadPositionOffset, tail);
        Assert.True(writer.TryReserve(500) != null);
    }

    [Fact]
    public void A_padding_record_running_past_the_write_position_is_corruption_at_the_padding()
    {
        using TestRing ring = TestRing.OneToOne(Capacity);
        OneToOneWriteCursor<RingMemory> writer = ring.OneToOneWriter();
        OneToOneReadCursor<RingMemory> reader = ring.OneToOneReader();
        Assert.True(writer.TrySend(new byte[2000 - 8]));
        Assert.True(writer.TrySend(new byte[2000 - 8]));
        Assert.Equal(2, reader.Drain().Count);

        // A valid padding record at 4000 (96 bytes to the end), but the write position says only 16 bytes were committed.
        ring.Write(ring.Data + 4000 + 4, RingLayout.PaddingType);
        ring.Write(ring.Data + 4000, 96 - 8);
        ring.Write(RingLayout.WritePositionOffset, 4000L + 16);
        var refused = Assert.Throws<IpcCorruptionException>(() => reader.Drain());
        Assert.Contains("padding record at offset 4000 runs to the end of the data area, past the write position 4016", refused.Message, StringComparison.Ordinal);
        Assert.Equal(4000, refused.Position);

        // With the write position at the end of the padding it is skipped and nothing is delivered.
        ring.Write(RingLayout.WritePositionOffset, 4096L);
        Assert.Empty(ring.OneToOneReader().Drain());
        Assert.Equal(4096, ring.ReadInt64(RingLayout.ReadPositionOffset));
    }

    [Fact]
    public void Capacity_and_maximum_message_size_are_never_read_again_after_attach()
    {
        using TestRing ring = TestRing.OneToOne(Capacity, maxMessageSize: 1000);
        OneToOneWriteCursor<RingMemory> writer = ring.OneToOneWriter();
        OneToOneReadCursor<RingMemory> reader = ring.OneToOneReader();

        // A peer rewrites the descriptor: a capacity 16 times larger, a maximum of one byte.
        ring.Write(RingLayout.CapacityOffset, Capacity * 16);
        ring.Write(RingLayout.MaxMessageSizeOffset, 1);
        for (int round = 0; round < 20; round++)
        {
            Assert.True(writer.TrySend(new byte[1000], round));
            Assert.True(writer.TrySend(new byte[900], round));
            Assert.Equal([1000, 900], reader.Drain().Select(m => m.Body.Length));
        }

        // Both still wrap at the capacity they attached with, and refuse what exceeds the maximum they read then.
        Assert.True(ring.ReadInt64(RingLayout.WritePositionOffset) > 8 * Capacity);
        Assert.Equal(1000, writer.MaxMessageSize);
        Assert.Equal(1000, reader.MaxMessageSize);
    }

    [Theory]
    [InlineData(8192, "header size of 8192")]
    [InlineData(0, "header size of 0")]
    public void A_header_size_other_than_the_layout_says_is_refused(int headerSize, string expected)
    {
        using TestRing ring = TestRing.OneToOne(Capacity);
        ring.Write(RingLayout.HeaderSizeOffset, headerSize);
        var refused = Assert.Throws<IpcCorruptionException>(() => RingDescriptor.Read(ring.Memory, 4096 + Capacity, "Ring 'test'"));
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Moves both positions to <paramref name="position"/> and fills the data area with garbage a reader must never deliver.</summary>
    internal static byte[] MoveTo(TestRing ring, long position)
    {
        ring.Write(RingLayout.WritePositionOffset, position);
        ring.Write(RingLayout.ReadPositionOffset, position);
        new Span<byte>(ring.Base + ring.Data, (int)ring.Capacity).Fill(0xA5);
        return ring.Snapshot();
    }

    private static byte[] Fill(TestRing ring, OneToOneWriteCursor<RingMemory> writer)
    {
        while (writer.TrySend(new byte[500]))
        {
        }

        return ring.Snapshot();
    }
}
