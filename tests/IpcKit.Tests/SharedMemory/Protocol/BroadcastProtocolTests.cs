using System.Buffers.Binary;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory.Protocol;

/// <summary>
/// The broadcast protocol on process memory: every subscriber gets every message under back-pressure; a lapped
/// subscriber of a lossy ring counts exactly what it lost and never delivers a torn copy; dead and stalled subscribers
/// are dropped; subscribers start now or at the oldest message.
/// </summary>
public sealed class BroadcastProtocolTests
{
    [Fact]
    public void Under_back_pressure_every_subscriber_gets_every_message_and_the_writer_waits_for_the_slowest()
    {
        using TestRing ring = TestRing.Broadcast(4096);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        BroadcastReadCursor<RingMemory> fast = ring.Subscriber(0);
        BroadcastReadCursor<RingMemory> slow = ring.Subscriber(1);
        var fastSeen = new List<long>();
        var slowSeen = new List<long>();
        long sent = 0;
        for (int round = 0; round < 200; round++)
        {
            while (writer.TrySend(Body(sent, 100)))
            {
                sent++;
            }

            // The ring is full for the slow one: the fast one has read everything and the writer still waits.
            fastSeen.AddRange(fast.Drain().Select(m => Check(m.Body)));
            Assert.False(writer.TrySend(Body(sent, 100)));
            slowSeen.AddRange(slow.Drain(round % 5 + 1).Select(m => Check(m.Body)));
        }

        slowSeen.AddRange(slow.Drain().Select(m => Check(m.Body)));
        fastSeen.AddRange(fast.Drain().Select(m => Check(m.Body)));
        Assert.Equal(Enumerable.Range(0, (int)sent).Select(i => (long)i), fastSeen);
        Assert.Equal(fastSeen, slowSeen);
        Assert.Equal(0, slow.Lost);
        Assert.Empty(ring.Dropped);
    }

    [Fact]
    public void A_lapped_subscriber_of_a_lossy_ring_counts_exactly_what_it_lost_and_resumes_in_order()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        BroadcastReadCursor<RingMemory> subscriber = ring.Subscriber(0);
        var random = new Random(7);
        long sent = 0;
        var seen = new List<long>();
        for (int round = 0; round < 300; round++)
        {
            int burst = random.Next(1, 120);
            for (int i = 0; i < burst; i++)
            {
                Assert.True(writer.TrySend(Body(sent, 8 + random.Next(0, 300))));
                sent++;
            }

            seen.AddRange(subscriber.Drain(random.Next(1, 40)).Select(m => Check(m.Body)));
        }

        seen.AddRange(subscriber.Drain().Select(m => Check(m.Body)));
        Assert.True(subscriber.Lost > 0, "the writer overtook the subscriber");
        Assert.Equal(sent, seen.Count + subscriber.Lost);
        Assert.True(seen.Zip(seen.Skip(1)).All(pair => pair.Second > pair.First), "in order, no message twice");
        Assert.Equal(sent - 1, seen[^1]);
        Assert.Equal(subscriber.Lost, ring.Laps.Sum(lap => lap.Lost));

        // Each resume lost exactly the messages between where it was and where it went on.
        Assert.Equal(sent, subscriber.Sequence);
    }

    [Fact]
    public unsafe void A_lapped_subscriber_finding_no_intact_checkpoint_yet_has_nothing_ready_until_the_writer_commits()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        BroadcastReadCursor<RingMemory> subscriber = ring.Subscriber(0);
        long sent = 0;
        while (sent < 97)
        {
            Assert.True(writer.TrySend(Body(sent++, 56)));
        }

        // 97 records of 64 bytes: the write position is 1984 bytes before the end of the data area. Reserving the
        // largest message wraps, and raises the limit a whole capacity past the write position before anything is
        // committed: until the record is staged, every checkpoint lies below what is intact.
        Assert.Equal(1984, ring.Capacity - (ring.ReadInt64(RingLayout.WritePositionOffset) % ring.Capacity));
        int largest = ring.Descriptor.MaxMessageSize;
        byte* target = writer.TryReserve(largest);
        Assert.True(target != null);
        Assert.False(subscriber.HasData());
        Assert.False(subscriber.TryPeek(out _, out _, out _, out _));

        Body(sent, largest).CopyTo(new Span<byte>(target, largest));
        writer.Commit(largest, 0);
        Assert.True(subscriber.HasData());
        List<(byte[] Body, int TypeId, long Position)> seen = subscriber.Drain();
        Assert.Equal([sent], seen.Select(m => Check(m.Body)));
        Assert.Equal(sent, subscriber.Lost);
        Assert.Equal(sent + 1, subscriber.Sequence);
    }

    [Fact]
    public void A_lapped_subscriber_whose_search_for_a_checkpoint_the_writer_outpaces_searches_again()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        var interrupt = new Interrupt();
        var subscriber = new BroadcastReadCursor<InterruptedMemory>(new InterruptedMemory(ring.Memory, interrupt), ring.Descriptor, "Ring 'test'", 0, RingStart.Now, ring);
        ring.Write(RingLayout.SlotOffset(0) + RingLayout.StateField, (int)RingPeerState.Attached);
        long sent = 0;
        void Laps(int laps)
        {
            for (long bytes = 0; bytes < laps * ring.Capacity; bytes += 112)
            {
                Assert.True(writer.TrySend(Body(sent++, 100)));
            }
        }

        // Lapped; then, while it reads the first checkpoint entry, the writer laps it three times more: each entry it
        // reads after that is newer than the write position it would have read before the search.
        Laps(2);
        interrupt.Action = () => Laps(3);
        List<long> seen = [.. subscriber.Drain().Select(m => Check(m.Body))];
        Assert.Null(interrupt.Action);
        Assert.Equal(sent - 1, seen[^1]);
        Assert.Equal(Enumerable.Range((int)seen[0], seen.Count).Select(i => (long)i), seen);
        Assert.Equal(sent, seen.Count + subscriber.Lost);
    }

    [Fact]
    public async Task A_subscriber_racing_a_lossy_writer_on_another_thread_never_delivers_a_torn_copy()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        BroadcastReadCursor<RingMemory> subscriber = ring.Subscriber(0);
        const long Total = 300_000;
        Task producing = Task.Factory.StartNew(() =>
        {
            for (long n = 0; n < Total; n++)
            {
                writer.TrySend(Body(n, 8 + (int)(n % 500)));
            }
        }, TaskCreationOptions.LongRunning);

        long last = -1;
        long received = 0;
        while (!producing.IsCompleted || subscriber.HasData())
        {
            foreach ((byte[] body, _, _) in subscriber.Drain(64))
            {
                long sequence = Check(body);
                Assert.True(sequence > last, $"{sequence} after {last}");
                last = sequence;
                received++;
            }
        }

        await producing.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(Total - 1, last);
        Assert.Equal(Total, received + subscriber.Lost);
    }

    [Fact]
    public void A_dead_subscriber_is_dropped_at_once()
    {
        using TestRing ring = TestRing.Broadcast(4096);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        BroadcastReadCursor<RingMemory> dead = ring.Subscriber(0);
        BroadcastReadCursor<RingMemory> live = ring.Subscriber(1);
        long sent = 0;
        while (writer.TrySend(Body(sent, 100)))
        {
            sent++;
        }

        Assert.Equal(sent, live.Drain().Count);
        Assert.False(writer.TrySend(Body(sent, 100)));
        Assert.Empty(ring.Dropped);

        ring.Kill(0);
        Assert.True(writer.TrySend(Body(sent, 100)));
        Assert.Equal((0, "it died without detaching"), Assert.Single(ring.Dropped));
        Assert.Throws<RingSubscriberDroppedException>(() => dead.Drain());
        Assert.Single(live.Drain());
    }

    [Fact]
    public void A_subscriber_that_stops_reading_is_dropped_once_the_limit_passed_and_learns_it_at_its_next_read()
    {
        using TestRing ring = TestRing.Broadcast(4096);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher(stall: TimeSpan.Zero);
        BroadcastReadCursor<RingMemory> stalled = ring.Subscriber(0);
        BroadcastReadCursor<RingMemory> live = ring.Subscriber(1);
        long sent = 0;
        while (writer.TrySend(Body(sent, 100)))
        {
            sent++;
        }

        // The full writer saw it in the way (the limit counts from then); at the next look the limit (zero) has passed.
        Assert.Empty(ring.Dropped);
        live.Drain();
        Assert.True(writer.TrySend(Body(sent, 100)));
        Assert.StartsWith("it read nothing for", Assert.Single(ring.Dropped).Reason, StringComparison.Ordinal);
        Assert.Equal((int)RingPeerState.Dropped, ring.ReadInt32(RingLayout.SlotOffset(0) + RingLayout.StateField));
        Assert.Throws<RingSubscriberDroppedException>(() => stalled.Drain());
        Assert.Single(live.Drain());
    }

    [Fact]
    public void A_subscriber_starts_with_the_next_message_or_with_the_oldest_still_there()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> writer = ring.Publisher();
        for (long n = 0; n < 100; n++)
        {
            Assert.True(writer.TrySend(Body(n, 100)));
        }

        BroadcastReadCursor<RingMemory> now = ring.Subscriber(0, RingStart.Now);
        BroadcastReadCursor<RingMemory> oldest = ring.Subscriber(1, RingStart.Oldest);
        Assert.Equal(100, now.Sequence);
        Assert.True(writer.TrySend(Body(100, 100)));

        Assert.Equal([100L], now.Drain().Select(m => Check(m.Body)));
        List<long> history = [.. oldest.Drain().Select(m => Check(m.Body))];
        Assert.Equal(100, history[^1]);
        Assert.True(history.Count is > 20 and < 40, $"about a ring's worth of 112-byte records: {history.Count}");
        Assert.Equal(Enumerable.Range((int)history[0], history.Count).Select(i => (long)i), history);
    }

    [Fact]
    public void A_new_writer_continues_the_sequence_and_subscribers_continue_with_it()
    {
        using TestRing ring = TestRing.Broadcast(4096, lossy: true);
        BroadcastWriteCursor<RingMemory> first = ring.Publisher();
        BroadcastReadCursor<RingMemory> subscriber = ring.Subscriber(0);
        for (long n = 0; n < 77; n++)
        {
            Assert.True(first.TrySend(Body(n, 8 + (int)(n * 11 % 300))));
        }

        BroadcastWriteCursor<RingMemory> second = ring.Publisher();
        Assert.Equal(77, second.Sequence);
        Assert.True(second.TrySend(Body(77, 8)));
        List<(byte[] Body, int TypeId, long Position)> seen = subscriber.Drain();
        Assert.Equal(77, Check(seen[^1].Body));
        Assert.Equal(78, subscriber.Sequence);
    }

    /// <summary>The ring's memory, with an action run once just before the first checkpoint entry is next read.</summary>
    private readonly unsafe struct InterruptedMemory(RingMemory memory, Interrupt interrupt) : IRingMemory
    {
        public byte* Pointer(long offset) => memory.Pointer(offset);

        public long ReadInt64(long offset) => memory.ReadInt64(offset);

        public long ReadInt64Acquire(long offset)
        {
            if (offset == RingLayout.CheckpointsOffset && interrupt.Action is { } action)
            {
                interrupt.Action = null;
                action();
            }

            return memory.ReadInt64Acquire(offset);
        }

        public int ReadInt32(long offset) => memory.ReadInt32(offset);

        public int ReadInt32Acquire(long offset) => memory.ReadInt32Acquire(offset);

        public void WriteInt32(long offset, int value) => memory.WriteInt32(offset, value);

        public void WriteInt32Release(long offset, int value) => memory.WriteInt32Release(offset, value);

        public void WriteInt64(long offset, long value) => memory.WriteInt64(offset, value);

        public void WriteInt64Release(long offset, long value) => memory.WriteInt64Release(offset, value);

        public long ExchangeInt64(long offset, long value) => memory.ExchangeInt64(offset, value);

        public long CompareExchangeInt64(long offset, long value, long comparand) => memory.CompareExchangeInt64(offset, value, comparand);

        public int CompareExchangeInt32(long offset, int value, int comparand) => memory.CompareExchangeInt32(offset, value, comparand);

        public long OrInt64(long offset, long bits) => memory.OrInt64(offset, bits);

        public long AndInt64(long offset, long bits) => memory.AndInt64(offset, bits);

        public void Zero(long offset, long length) => memory.Zero(offset, length);
    }

    private sealed class Interrupt
    {
        public Action? Action { get; set; }
    }

    private static byte[] Body(long sequence, int size)
    {
        byte[] body = new byte[size];
        BinaryPrimitives.WriteInt64LittleEndian(body, sequence);
        for (int i = 8; i < size; i++)
        {
            body[i] = (byte)(sequence * 3 + i);
        }

        return body;
    }

    private static long Check(byte[] body)
    {
        long sequence = BinaryPrimitives.ReadInt64LittleEndian(body);
        for (int i = 8; i < body.Length; i++)
        {
            Assert.Equal((byte)(sequence * 3 + i), body[i]);
        }

        return sequence;
    }
}
