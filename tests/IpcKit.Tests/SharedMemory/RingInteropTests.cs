using System.Globalization;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>
/// A producer and a consumer written in C from docs/ring-format.md alone (tests/native/ring_peer.c) exchange
/// messages with IpcKit through the ring, across the wrap, with the wake-up protocol in both directions.
/// </summary>
public sealed class RingInteropTests : RingTestBase
{
    private readonly TempDirectory _temp = new();

    public override void Dispose()
    {
        _temp.Dispose();
        base.Dispose();
    }

    [SkippableFact]
    public async Task A_C_producer_writes_and_IpcKit_reads()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The C peer uses Linux OFD locks and /dev/shm.");
        string peer = CCompiler.CompileNative(_temp, "ring_peer");
        string name = CreateRing(1 << 16);
        using RingReader reader = RingReader.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });

        using ChildProcess producer = ChildProcess.StartProgram(peer, ["produce", name, "200000", "56"]);
        long expected = 0;
        while (expected < 200_000)
        {
            Assert.True(reader.WaitForData(TestTimeouts.Unexpected), producer.Describe());
            reader.Drain(ref expected);
        }

        await producer.AssertExitCodeAsync(0);
        Assert.Equal(RingPeerState.Detached, RingBuffer.Inspect(name).Writer.State);
        Assert.Equal(IpcCloseReason.PeerClosed, Assert.Throws<IpcPeerGoneException>(() => reader.WaitForData(TestTimeouts.Unexpected)).Reason);
    }

    [SkippableFact]
    public async Task IpcKit_writes_and_a_C_consumer_reads()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The C peer uses Linux OFD locks and /dev/shm.");
        string peer = CCompiler.CompileNative(_temp, "ring_peer");
        string name = CreateRing(1 << 14);
        using RingWriter writer = RingWriter.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });

        using ChildProcess consumer = ChildProcess.StartProgram(peer, ["consume", name, "200000"]);
        await consumer.ReadyAsync();
        for (long sequence = 0; sequence < 200_000; sequence++)
        {
            int size = 8 + (int)(sequence % 300);
            Assert.True(writer.TrySendRaw(Payload(sequence, size), timeout: TestTimeouts.Unexpected), consumer.Describe());
        }

        await consumer.AssertExitCodeAsync(0);
        Assert.Equal($"READ 200000 0 199999", await consumer.WaitForLineAsync("READ "));
        Assert.Equal(0, RingBuffer.Inspect(name).UsedBytes);
    }

    [SkippableFact]
    public async Task The_C_peer_is_refused_a_role_IpcKit_holds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The C peer uses Linux OFD locks and /dev/shm.");
        string peer = CCompiler.CompileNative(_temp, "ring_peer");
        string name = CreateRing();
        using RingReader reader = RingReader.Attach(name);

        using ChildProcess consumer = ChildProcess.StartProgram(peer, ["consume", name, "1"]);
        await consumer.AssertExitCodeAsync(5);
        Assert.Contains("role is held", consumer.StandardError, StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), RingBuffer.Inspect(name).Reader.ProcessId.ToString(CultureInfo.InvariantCulture));
    }

    [SkippableFact]
    public async Task C_writers_and_an_IpcKit_writer_share_a_many_to_one_ring_that_IpcKit_reads()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The C peers use Linux OFD locks and /dev/shm.");
        string producer = CCompiler.CompileNative(_temp, "ring_m2o_producer");
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.ManyToOne, Capacity = 1 << 14, MaxProducers = 4 });
        using RingReader reader = RingReader.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        const long PerWriter = 100_000;
        using ChildProcess first = ChildProcess.StartProgram(producer, [name, "1", $"{PerWriter}", "40"]);
        using ChildProcess second = ChildProcess.StartProgram(producer, [name, "2", $"{PerWriter}", "300"]);
        Task ours = Task.Run(() =>
        {
            using RingWriter writer = RingWriter.Attach(name);
            for (long n = 0; n < PerWriter; n++)
            {
                writer.SendRaw(Payload((3L << 40) | n, 8 + (int)(n % 200)), timeout: TestTimeouts.Unexpected);
            }
        });

        long[] next = new long[4];
        long total = 0;
        while (total < 3 * PerWriter)
        {
            Assert.True(reader.WaitForData(TestTimeouts.Unexpected), first.Describe() + second.Describe());
            foreach (RingRecord record in reader.ReadBatch())
            {
                long sequence = IpcKit.Tests.Child.RingScenarios.Check(record.Body);
                Assert.True(sequence >= 0, $"a torn or foreign message at {record.Position}");
                int writer = (int)(sequence >> 40);
                Assert.Equal(next[writer], sequence & ((1L << 40) - 1));
                next[writer]++;
                total++;
            }
        }

        await ours.WaitAsync(TestTimeouts.Unexpected);
        await first.AssertExitCodeAsync(0);
        await second.AssertExitCodeAsync(0);
        Assert.Equal([0, PerWriter, PerWriter, PerWriter], next);
        Assert.Equal(0, reader.HolesSkipped);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_C_subscriber_reads_a_broadcast_ring_that_IpcKit_writes(bool lossy)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The C peer uses Linux OFD locks and /dev/shm.");
        string subscriber = CCompiler.CompileNative(_temp, "ring_subscriber");
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.Broadcast, Capacity = 1 << 14, Lossy = lossy });
        using RingWriter writer = RingWriter.Attach(name, new RingEndpointOptions { WaitStrategy = RingWaitStrategy.Blocking });
        using ChildProcess child = ChildProcess.StartProgram(subscriber, [name, "200000"]);
        await child.ReadyAsync();
        for (long n = 0; n < 200_000; n++)
        {
            writer.SendRaw(Payload(n, 8 + (int)(n % 300)), timeout: TestTimeouts.Unexpected);
        }

        await child.AssertExitCodeAsync(0);
        string[] read = (await child.WaitForLineAsync("READ ")).Split(' ');
        long received = long.Parse(read[1], CultureInfo.InvariantCulture);
        long lost = long.Parse(read[2], CultureInfo.InvariantCulture);
        Assert.Equal(200_000, received + lost);
        Assert.Equal("199999", read[4]);
        if (!lossy)
        {
            Assert.Equal(0, lost);
            Assert.Equal("0", read[3]);
        }
    }
}
