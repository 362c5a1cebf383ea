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
        Assert.Equal(PeerGoneReason.Closed, Assert.Throws<IpcPeerGoneException>(() => reader.WaitForData(TestTimeouts.Unexpected)).Reason);
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
}
