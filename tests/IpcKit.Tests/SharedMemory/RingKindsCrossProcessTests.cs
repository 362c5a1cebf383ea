using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using IpcKit.Diagnostics;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>
/// Many-to-one and broadcast rings between real processes: four producer processes into one reader; four subscribers
/// that each get everything; a lossy subscriber that counts its losses exactly; subscribers killed or frozen do not
/// stall the writer beyond its limit; a reader that attaches after its writer died waits for the next one; a frozen
/// writer is waited for, not reported.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RingKindsCrossProcessTests : RingTestBase
{
    private static readonly RingEndpointOptions s_blocking = new() { WaitStrategy = RingWaitStrategy.Blocking };

    [Fact]
    public async Task Four_producer_processes_times_a_million_arrive_complete_and_in_each_producers_order()
    {
        const long PerProducer = 1_000_000;
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.ManyToOne, Capacity = 1 << 20, MaxProducers = 4 });
        using RingReader reader = RingReader.Attach(name);
        ChildProcess[] producers = [.. Enumerable.Range(1, 4).Select(id =>
            ChildProcess.StartCli("ring", "produce", name, "--count", $"{PerProducer}", "--size", "32", "--producer", $"{id}", "--json"))];
        try
        {
            long[] next = new long[5];
            var hashes = new Fnv1a64[5];
            long total = 0;
            var lastProgress = Stopwatch.StartNew();
            while (total < 4 * PerProducer)
            {
                Assert.True(reader.WaitForData(TestTimeouts.Unexpected), $"stalled after {total}: " + string.Join(" | ", producers.Select(p => p.Describe())));
                foreach (RingRecord record in reader.ReadBatch())
                {
                    uint id = BinaryPrimitives.ReadUInt32LittleEndian(record.Body);
                    long sequence = BinaryPrimitives.ReadInt64LittleEndian(record.Body[4..]);
                    Assert.Equal(next[id], sequence);
                    next[id]++;
                    hashes[id].Append(record.Body);
                    total++;
                }
            }

            for (int id = 1; id <= 4; id++)
            {
                await producers[id - 1].AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
                JsonElement sent = JsonDocument.Parse(producers[id - 1].Lines[^1]).RootElement;
                Assert.Equal(PerProducer, next[id]);
                Assert.Equal(sent.GetProperty("fnv1a64").GetString(), hashes[id].ToString());
            }

            Assert.Equal(0, reader.HolesSkipped);
            Assert.False(reader.HasData());
        }
        finally
        {
            foreach (ChildProcess producer in producers)
            {
                producer.Dispose();
            }
        }
    }

    [Fact]
    public async Task Four_subscribers_each_get_every_message_under_back_pressure()
    {
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.Broadcast, Capacity = 1 << 16, MaxSubscribers = 4 });
        using RingWriter writer = RingWriter.Attach(name);
        ChildProcess[] subscribers = [.. Enumerable.Range(0, 4).Select(_ =>
            ChildProcess.StartCli("ring", "subscribe", name, "--count", "200000", "--timeout", "30000", "--json"))];
        try
        {
            await WaitUntilAsync(() => RingBuffer.Inspect(name).Slots.Count(s => s.Alive) == 4);
            var hash = new Fnv1a64();
            byte[] body = new byte[48];
            for (long n = 0; n < 200_000; n++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(body, n);
                writer.SendRaw(body, timeout: TestTimeouts.Unexpected);
                hash.Append(body);
            }

            foreach (ChildProcess subscriber in subscribers)
            {
                await subscriber.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
                JsonElement got = JsonDocument.Parse(subscriber.Lines[^1]).RootElement;
                Assert.Equal(hash.ToString(), got.GetProperty("fnv1a64").GetString());
                Assert.Equal(0, got.GetProperty("lost").GetInt64());
            }

            Assert.True(writer.FullWaits > 0, "The writer should have waited for the subscribers.");
        }
        finally
        {
            foreach (ChildProcess subscriber in subscribers)
            {
                subscriber.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_slow_subscriber_of_a_lossy_ring_reports_exactly_how_many_messages_it_lost()
    {
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.Broadcast, Capacity = 1 << 14, Lossy = true });
        using ChildProcess subscriber = ChildProcess.StartCli("ring", "subscribe", name, "--timeout", "30000", "--wait", "blocking", "--json");
        await WaitUntilAsync(() => RingBuffer.Inspect(name).Slots.Any(s => s.Alive));
        using ChildProcess producer = ChildProcess.StartCli("ring", "produce", name, "--count", "500000", "--size", "100", "--json");
        await producer.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        await subscriber.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

        JsonElement got = JsonDocument.Parse(subscriber.Lines[^1]).RootElement;
        long received = got.GetProperty("count").GetInt64();
        long lost = got.GetProperty("lost").GetInt64();
        Assert.True(lost > 0, "A blocking subscriber should fall behind a busy writer on a 16 KiB ring.");
        Assert.Equal(500_000, received + lost);
        Assert.Equal(0, got.GetProperty("outOfOrder").GetInt64());

        // The messages missing from the producer's sequence are exactly the ones reported lost: the gaps, and the ones
        // before the first message received when the subscriber was overtaken before it read any.
        long first = got.GetProperty("producers")[0].GetProperty("first").GetInt64();
        Assert.Equal(lost, got.GetProperty("missing").GetInt64() + first);
    }

    [Fact]
    public async Task A_killed_subscriber_is_dropped_at_once_and_a_frozen_one_after_the_limit_and_told_so()
    {
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.Broadcast, Capacity = 1 << 14 });
        var limit = TimeSpan.FromSeconds(1);
        using RingWriter writer = RingWriter.Attach(name, new RingEndpointOptions { SlowSubscriberTimeout = limit });
        var dropped = new List<RingSubscriberDroppedEventArgs>();
        writer.SubscriberDropped += (_, e) => dropped.Add(e);
        using ChildProcess killed = ChildProcess.StartCli("ring", "subscribe", name, "--count", "1000000000", "--timeout", "-1");
        using ChildProcess frozen = ChildProcess.StartCli("ring", "subscribe", name, "--count", "1000000000", "--timeout", "-1");
        await WaitUntilAsync(() => RingBuffer.Inspect(name).Slots.Count(s => s.Alive) == 2);

        // Freeze one, kill the other; fill the ring: the dead one is dropped as soon as it is in the way.
        Assert.Equal(0, Interop.Signals.Kill(frozen.Id, 19));
        killed.Kill();
        await killed.WaitForExitAsync();
        var clock = Stopwatch.StartNew();
        byte[] body = new byte[100];
        while (dropped.Count < 2)
        {
            writer.SendRaw(body, timeout: TestTimeouts.Unexpected);
        }

        Assert.Contains(dropped, d => d.ProcessId == killed.Id && d.Reason == "it died without detaching");
        RingSubscriberDroppedEventArgs stalled = Assert.Single(dropped, d => d.ProcessId == frozen.Id);
        Assert.StartsWith("it read nothing for", stalled.Reason, StringComparison.Ordinal);
        Assert.True(clock.Elapsed >= limit, "A live subscriber is dropped only after the limit.");

        // Thawed, the frozen one learns it was dropped (exit 3, peer gone) instead of reading overwritten memory.
        Assert.Equal(0, Interop.Signals.Kill(frozen.Id, 18));
        await frozen.AssertExitCodeAsync(3);
        Assert.Contains("dropped", frozen.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RingKind.OneToOne)]
    [InlineData(RingKind.ManyToOne)]
    public async Task A_reader_that_attaches_after_its_writer_died_waits_for_the_next_writer_and_can_tell(RingKind kind)
    {
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = kind, Capacity = 1 << 16 });
        using (ChildProcess writer = ChildProcess.Start("ring-write", name, "10", "16", "hold"))
        {
            await writer.WaitForLineAsync("CLAIMED");
            writer.Kill();
            await writer.WaitForExitAsync();
        }

        using RingReader reader = RingReader.Attach(name, s_blocking);
        Assert.True(reader.PreviousWriterDied);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(16, reader.Receive(TestTimeouts.Unexpected).Body.Length);
        }

        // No report of the death it did not see: it waits (and times out) for a new writer.
        Assert.False(reader.WaitForData(TestTimeouts.Expected));
        using ChildProcess next = ChildProcess.Start("ring-write", name, "3", "16");
        await next.AssertExitCodeAsync(0);
        Assert.Equal(3, Enumerable.Range(0, 3).Count(_ => reader.Receive(TestTimeouts.Unexpected).Body.Length == 16));

        // That writer detached while this reader was attached: reported once.
        Assert.Equal(IpcCloseReason.PeerClosed, Assert.Throws<IpcPeerGoneException>(() => reader.WaitForData(TestTimeouts.Unexpected)).Reason);
        Assert.False(reader.WaitForData(TestTimeouts.Expected));
    }

    [Fact]
    public async Task A_frozen_writer_is_waited_for_not_reported_and_its_messages_arrive_when_it_thaws()
    {
        string name = CreateRing(1 << 16);
        using RingReader reader = RingReader.Attach(name, s_blocking);
        using ChildProcess writer = ChildProcess.Start("ring-write", name, "100000", "64");
        await writer.ReadyAsync();
        Assert.Equal(0, Interop.Signals.Kill(writer.Id, 19));
        try
        {
            // However long it is frozen, the lock says it is alive: waits time out, never "peer gone".
            while (reader.Drain(static (_, _) => { }) > 0)
            {
            }

            Assert.False(reader.WaitForData(TimeSpan.FromSeconds(1.5)));
            Assert.True(RingBuffer.Inspect(name).WriterAlive);
        }
        finally
        {
            Interop.Signals.Kill(writer.Id, 18);
        }

        long received = reader.MessagesReceived;
        while (received < 100_000)
        {
            Assert.True(reader.WaitForData(TestTimeouts.Unexpected));
            received += reader.Drain(static (_, _) => { });
        }

        await writer.AssertExitCodeAsync(0);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TestTimeouts.Unexpected, "The condition did not come true in time.");
            await Task.Delay(10);
        }
    }
}
