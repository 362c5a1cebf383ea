using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.Diagnostics;
using IpcKit.SharedMemory;
using IpcKit.Tests.Reliability;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace IpcKit.Tests.Nats;

/// <summary>
/// Exactly once into the remote ring across kill -9: a producer on machine A writes numbered messages into its ring
/// without pause; the outbound bridge (ring → JetStream) and the inbound bridge (JetStream → machine B's ring) are
/// SIGKILLed at random moments, alone or together, and started again. Afterwards the consumer on B has every message
/// once, in order, and the FNV-1a hash of everything it read equals the producer's; the stream holds each once.
/// </summary>
/// <remarks>tools/chaos/run.sh runs this longer (IPCKIT_CHAOS_SECONDS); CI runs the 15-second form.</remarks>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class BridgeChaosTests(ITestOutputHelper output) : BridgeTestBase
{
    private const int PayloadSize = 64;

    [SkippableFact]
    public async Task Bridges_killed_at_random_under_load_deliver_every_message_exactly_once_in_order()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        TimeSpan duration = ReliabilitySettings.ChaosDuration;
        await StartServerAsync();
        string ringA = Ring(64 * 1024);
        string ringB = Ring(64 * 1024);
        string subject = Subject("chaos");
        string stream = StreamName();
        string[] outboundArgs = ["ring-to-nats", ringA, subject, "--jetstream", stream];
        string[] inboundArgs = ["nats-to-ring", subject, ringB, "--jetstream", stream];
        ChildProcess outbound = await StartBridgeAsync(outboundArgs);
        ChildProcess inbound = await StartBridgeAsync(inboundArgs);

        using var stop = new CancellationTokenSource();
        using var failed = new CancellationTokenSource(duration + TestTimeouts.Unexpected + TestTimeouts.Unexpected);
        Task<(long Count, ulong Hash)> producer = Task.Run(() => Produce(ringA, stop.Token), CancellationToken.None);
        var consumer = new Consumer();
        Task consuming = Task.Run(() => consumer.RunAsync(ringB, failed.Token), CancellationToken.None);
        var kills = new Dictionary<string, int> { ["outbound"] = 0, ["inbound"] = 0, ["both"] = 0 };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration || kills.Values.Sum() < 4)
        {
            // A random moment: this delay is the chaos, not synchronisation.
            await Task.Delay(random.Next(50, 600));
            string victim = random.Next(5) switch { 0 or 1 => "outbound", 2 or 3 => "inbound", _ => "both" };
            kills[victim]++;
            if (victim is "outbound" or "both")
            {
                outbound.Kill();
            }

            if (victim is "inbound" or "both")
            {
                inbound.Kill();
            }

            if (victim is "outbound" or "both")
            {
                await outbound.WaitForExitAsync();
                outbound = await StartBridgeAsync(outboundArgs);
            }

            if (victim is "inbound" or "both")
            {
                await inbound.WaitForExitAsync();
                inbound = await StartBridgeAsync(inboundArgs);
            }
        }

        await stop.CancelAsync();
        (long produced, ulong producedHash) = await producer;
        consumer.Expect(produced);
        try
        {
            await consuming.WaitAsync(failed.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"B read {consumer.Count} of {produced} messages. Ring A: {RingBuffer.Inspect(ringA)}; ring B: {RingBuffer.Inspect(ringB)}\n{Describe([outbound, inbound])}");
        }

        // Nothing more arrives: no message was written twice, not even at the end.
        await StopBridgeAsync(outbound);
        string inboundSummary = await StopBridgeAsync(inbound);
        Assert.Equal(0, RingBuffer.Inspect(ringB).UsedBytes);
        await using var nats = new NatsConnection(new NatsOpts { Url = Server.Url });
        long stored = (await new NatsJSContext(nats).GetStreamAsync(stream)).Info.State.Messages;

        ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
            $"bridge chaos (seed {seed}, {duration.TotalSeconds:F0} s): kills outbound={kills["outbound"]} inbound={kills["inbound"]} both={kills["both"]}; " +
            $"{produced} produced on A, {consumer.Count} read on B once each in order, {stored} in the stream; hash A {producedHash:x16}, B {consumer.Hash:x16}; " +
            $"last inbound bridge: {inboundSummary}"));
        Assert.True(produced > 1000, $"The producer wrote only {produced} messages.");
        Assert.Equal(produced, consumer.Count);
        Assert.Equal(producedHash, consumer.Hash);
        Assert.Equal(produced, stored);
    }

    /// <summary>Machine A's application: numbered messages as fast as the ring takes them, until told to stop.</summary>
    private static (long Count, ulong Hash) Produce(string ring, CancellationToken stop)
    {
        using RingWriter writer = RingWriter.Attach(ring);
        var hash = new Fnv1a64();
        byte[] payload = new byte[PayloadSize];
        long sequence = 0;
        while (!stop.IsCancellationRequested)
        {
            Fill(payload, sequence);
            try
            {
                if (!writer.TrySendRaw(payload, timeout: TimeSpan.FromMilliseconds(200), cancellationToken: stop))
                {
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (IpcPeerGoneException)
            {
                // The outbound bridge (the reader) was killed while the ring was full; its successor attaches.
                continue;
            }

            hash.Append(payload);
            sequence++;
        }

        return (sequence, hash.Value);
    }

    private static void Fill(byte[] payload, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, sequence);
        for (int i = 8; i < payload.Length; i++)
        {
            payload[i] = (byte)(sequence * 31 + i);
        }
    }

    /// <summary>Machine B's application: reads everything, checking each message is the next one, whole.</summary>
    private sealed class Consumer
    {
        private readonly byte[] _expected = new byte[PayloadSize];
        private Fnv1a64 _hash;
        private long _target = long.MaxValue;

        public long Count { get; private set; }

        public ulong Hash => _hash.Value;

        public void Expect(long count) => Interlocked.Exchange(ref _target, count);

        public async Task RunAsync(string ring, CancellationToken cancellationToken)
        {
            using RingReader reader = RingReader.Attach(ring);
            while (Count < Interlocked.Read(ref _target))
            {
                foreach (RingRecord record in reader.ReadBatch())
                {
                    Fill(_expected, Count);
                    Assert.True(
                        record.Body.SequenceEqual(_expected),
                        $"Message {Count} on B is message {BinaryPrimitives.ReadInt64LittleEndian(record.Body)}: a message was lost, repeated or reordered.");
                    _hash.Append(record.Body);
                    Count++;
                }

                try
                {
                    await reader.WaitForDataAsync(TimeSpan.FromMilliseconds(100), cancellationToken);
                }
                catch (IpcPeerGoneException)
                {
                    // The inbound bridge (the writer) was killed; its successor attaches.
                }
            }
        }
    }
}
