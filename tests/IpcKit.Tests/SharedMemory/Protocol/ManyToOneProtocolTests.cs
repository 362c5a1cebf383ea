using System.Buffers.Binary;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory.Protocol;

/// <summary>
/// The many-to-one protocol on process memory: producers on real threads claiming by compare-and-swap, claims of dead
/// producers skipped as holes (counted, nothing uncommitted delivered, nothing committed lost), and the commit and
/// free orders replayed store by store.
/// </summary>
public sealed class ManyToOneProtocolTests
{
    [Fact]
    public async Task Four_producer_threads_deliver_every_message_once_in_each_producers_order()
    {
        const int Producers = 4;
        const int PerProducer = 20_000;
        using TestRing ring = TestRing.ManyToOne(8192, Producers);
        ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
        ManyToOneWriteCursor<RingMemory>[] producers = [.. Enumerable.Range(0, Producers).Select(ring.Producer)];
        using var cancel = new CancellationTokenSource(TestTimeouts.Unexpected);
        Task[] threads = [.. Enumerable.Range(0, Producers).Select(p => Task.Factory.StartNew(() =>
        {
            byte[] body = new byte[64];
            for (int n = 0; n < PerProducer; n++)
            {
                int size = 8 + ((n * 13 + p) % 57);
                Stamp(body.AsSpan(0, size), p, n);
                while (!producers[p].TrySend(body.AsSpan(0, size), p + 1))
                {
                    cancel.Token.ThrowIfCancellationRequested();
                    Thread.Yield();
                }
            }
        }, TaskCreationOptions.LongRunning))];

        long[] next = new long[Producers];
        long received = 0;
        while (received < Producers * PerProducer)
        {
            Assert.False(cancel.IsCancellationRequested, $"stalled after {received} messages");
            List<(byte[] Body, int TypeId, long Position)> batch = consumer.Drain(100);
            foreach ((byte[] body, int typeId, _) in batch)
            {
                (int producer, long sequence) = Check(body);
                Assert.Equal(producer + 1, typeId);
                Assert.Equal(next[producer], sequence);
                next[producer]++;
            }

            received += batch.Count;
            if (batch.Count == 0)
            {
                Thread.Yield();
            }
        }

        await Task.WhenAll(threads).WaitAsync(TestTimeouts.Unexpected);
        Assert.All(next, count => Assert.Equal(PerProducer, count));
        Assert.Empty(consumer.Drain());
        Assert.Empty(ring.Holes);
    }

    [Fact]
    public unsafe void The_claim_of_a_dead_producer_is_skipped_as_a_hole_after_it_was_seen_to_linger()
    {
        using TestRing ring = TestRing.ManyToOne(4096, 3);
        ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
        ManyToOneWriteCursor<RingMemory> a = ring.Producer(0);
        ManyToOneWriteCursor<RingMemory> b = ring.Producer(1);
        Assert.True(a.TrySend([1]));
        byte* claimed = b.TryReserve(100);
        new Span<byte>(claimed, 100).Fill(0x42);
        Assert.True(a.TrySend([2]));

        // The claim is not committed: the reader stops at it while its producer lives, however long it waits.
        Assert.Equal([1], consumer.Drain().Select(m => m.Body[0]));
        Assert.Empty(consumer.Drain());
        Assert.Empty(consumer.Drain());

        // Gone: the reader (which has seen the claim linger) skips it at its next look.
        ring.Kill(1);
        Assert.Equal([2], consumer.Drain().Select(m => m.Body[0]));
        (long position, long bytes, int slot) = Assert.Single(ring.Holes);
        Assert.Equal((RingLayout.RecordSize(1), RingLayout.RecordSize(100), 1), (position, bytes, slot));
        Assert.Equal(1, consumer.HolesSkipped);
        Assert.Equal(1, ring.ReadInt64(RingLayout.HolesSkippedOffset));
    }

    [Fact]
    public unsafe void A_claim_whose_producer_died_before_moving_the_write_position_is_moved_past_by_the_next_producer()
    {
        using TestRing ring = TestRing.ManyToOne(4096, 2);
        ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
        ManyToOneWriteCursor<RingMemory> dead = ring.Producer(0);
        Assert.True(dead.TryReserve(16) != null);

        // Undo its second step: the claim word is there, the write position still before it.
        ring.Write(RingLayout.WritePositionOffset, 0L);
        ring.Kill(0);
        Assert.Empty(consumer.Drain());

        Assert.True(ring.Producer(1).TrySend([9, 9]));
        Assert.Empty(consumer.Drain());
        Assert.Equal([9, 9], Assert.Single(consumer.Drain()).Body);
        Assert.Single(ring.Holes);
    }

    [Fact]
    public unsafe void Claims_across_the_end_shorter_commits_and_aborts_leave_only_padding_behind()
    {
        using TestRing ring = TestRing.ManyToOne(4096, 2);
        ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
        ManyToOneWriteCursor<RingMemory> producer = ring.Producer(0);
        var expected = new List<byte[]>();
        for (int round = 0; round < 200; round++)
        {
            int size = 8 + ((round * 37) % 600);
            byte* body = producer.TryReserve(size);
            Assert.True(body != null);
            new Span<byte>(body, size).Fill((byte)round);
            switch (round % 3)
            {
                case 0:
                    producer.Commit(size, 1);
                    expected.Add(new byte[size].Select(_ => (byte)round).ToArray());
                    break;
                case 1:
                    producer.Commit(size / 2, 2);
                    expected.Add(new byte[size / 2].Select(_ => (byte)round).ToArray());
                    break;
                default:
                    producer.Abort();
                    break;
            }

            if (round % 4 == 3)
            {
                Assert.Equal(expected, consumer.Drain().Select(m => m.Body));
                expected.Clear();
            }
        }

        Assert.Equal(expected, consumer.Drain().Select(m => m.Body));
        Assert.True(ring.ReadInt64(RingLayout.WritePositionOffset) > 10 * 4096, "the claims wrapped many times");
        Assert.Empty(ring.Holes);
    }

    [Theory]
    [InlineData(0, 40, false)]
    [InlineData(0, 40, true)]
    [InlineData(4000, 120, false)]
    [InlineData(4000, 120, true)]
    public unsafe void Every_prefix_of_a_claim_and_commit_shows_a_reader_nothing_a_hole_or_the_whole_record(int startOffset, int length, bool producerDies)
    {
        using TestRing ring = TestRing.ManyToOne(4096, 2);
        long start = 4096 + startOffset;
        ring.Write(RingLayout.WritePositionOffset, start);
        ring.Write(RingLayout.ReadPositionOffset, start);
        RingFree.Fill(ring.Memory, ring.Data, ring.Capacity, 12, start - 4096, start);
        byte[] before = ring.Snapshot();
        byte[] body = [.. Enumerable.Range(0, length).Select(i => (byte)(i + 1))];

        var log = new StoreLog();
        var producer = new ManyToOneWriteCursor<RecordingMemory>(new RecordingMemory(ring.Base, log), ring.Descriptor, "Ring 'test'", 1);
        byte* target = producer.TryReserve(length);
        body.CopyTo(new Span<byte>(target, length));
        log.AddBody(target - ring.Base, body);
        producer.Commit(length, 3);

        int commit = log.Stores.Count - 1;
        Assert.Equal("exchange", log.Stores[commit].Kind);
        if (producerDies)
        {
            ring.Kill(1);
        }

        for (int count = 0; count <= log.Stores.Count; count++)
        {
            ring.Restore(log.Replay(before, count));
            ring.Holes.Clear();
            ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
            var seen = new List<(byte[] Body, int TypeId, long Position)>();
            for (int look = 0; look < 3; look++)
            {
                seen.AddRange(consumer.Drain());
            }

            if (count > commit)
            {
                (byte[] received, int typeId, _) = Assert.Single(seen);
                Assert.Equal(body, received);
                Assert.Equal(3, typeId);
            }
            else
            {
                Assert.Empty(seen);
                bool claimVisible = ring.ReadInt64(RingLayout.WritePositionOffset) > start;
                Assert.Equal(producerDies && claimVisible ? 1 : 0, ring.Holes.Count);
            }
        }
    }

    [Fact]
    public unsafe void The_reader_frees_what_it_consumed_before_it_publishes_the_read_position()
    {
        using TestRing ring = TestRing.ManyToOne(4096, 2);
        ManyToOneWriteCursor<RingMemory> producer = ring.Producer(0);
        while (producer.TrySend(new byte[200], 1))
        {
        }

        byte[] before = ring.Snapshot();
        var log = new StoreLog();
        var consumer = new ManyToOneReadCursor<RecordingMemory>(new RecordingMemory(ring.Base, log), ring.Descriptor, "Ring 'test'", ring, ring, TimeSpan.Zero);
        Assert.Equal(3, consumer.Drain(3).Count);
        int publish = log.Stores.FindIndex(s => s.Offset == RingLayout.ReadPositionOffset);
        Assert.Equal(log.Stores.Count - 1, publish);

        // Whatever a producer finds after any prefix, it claims only free room, and what it sends arrives whole.
        for (int count = 0; count <= log.Stores.Count; count++)
        {
            ring.Restore(log.Replay(before, count));
            bool sent = ring.Producer(1).TrySend(new byte[200], 2);
            Assert.Equal(count > publish, sent);
            List<(byte[] Body, int TypeId, long Position)> rest = ring.Consumer().Drain();
            Assert.Equal(sent ? 2 : 1, rest[^1].TypeId);
        }
    }

    [Fact]
    public void Freed_words_hold_the_free_word_of_their_next_lap_so_a_late_claim_cannot_succeed()
    {
        using TestRing ring = TestRing.ManyToOne(4096, 1);
        ManyToOneWriteCursor<RingMemory> producer = ring.Producer(0);
        ManyToOneReadCursor<RingMemory> consumer = ring.Consumer();
        Assert.Equal(RingFree.Word(0), ring.ReadInt64(ring.Data));
        Assert.True(producer.TrySend(new byte[8]));
        Assert.Single(consumer.Drain());

        // Position 0 was claimed, committed, consumed: its word is now lap 1's, which a claim of position 0 never expects.
        Assert.Equal(RingFree.Word(1), ring.ReadInt64(ring.Data));
        Assert.NotEqual(RingFree.Word(0), RingFree.Word(1));
        Assert.Equal(RingFree.Word(0), ring.ReadInt64(ring.Data + 16));
    }

    private static void Stamp(Span<byte> body, int producer, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(body, ((long)producer << 48) | sequence);
        for (int i = 8; i < body.Length; i++)
        {
            body[i] = (byte)(sequence + i + producer);
        }
    }

    private static (int Producer, long Sequence) Check(byte[] body)
    {
        long stamp = BinaryPrimitives.ReadInt64LittleEndian(body);
        (int producer, long sequence) = ((int)(stamp >> 48), stamp & 0xFFFF_FFFF_FFFF);
        for (int i = 8; i < body.Length; i++)
        {
            Assert.Equal((byte)(sequence + i + producer), body[i]);
        }

        return (producer, sequence);
    }
}
