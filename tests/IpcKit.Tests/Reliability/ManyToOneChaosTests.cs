using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.SharedMemory;
using IpcKit.Tests.Child;
using IpcKit.Tests.SharedMemory;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Four producer processes write into one many-to-one ring while the test SIGKILLs them at random moments (between
/// claim and commit among them) and starts new ones; the test is the reader. Afterwards: every message a producer
/// reported committed arrived, each producer's messages arrived once, in order, without a gap and intact, the only
/// message that arrived without being reported is, per killed producer, the one it was writing, nothing hung, and the
/// claims the dead left behind were skipped and counted.
/// </summary>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class ManyToOneChaosTests(ITestOutputHelper output) : RingTestBase
{
    private const int Producers = 4;

    [Fact]
    public async Task Killed_producers_leave_no_torn_phantom_or_lost_message_and_their_claims_are_skipped()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        TimeSpan duration = ReliabilitySettings.ChaosDuration / 2;
        using var folder = new TempDirectory();
        string name = NewName();
        RingBuffer.Create(name, new RingOptions { Kind = RingKind.ManyToOne, Capacity = 64 * 1024, MaxProducers = 8 });
        int nextId = 0;
        var started = new List<ChildProcess>();
        ChildProcess Start(string mode = "")
        {
            ChildProcess child = ChildProcess.Start("chaos-m2o-producer", name, folder.Path, (++nextId).ToString(CultureInfo.InvariantCulture), mode);
            started.Add(child);
            return child;
        }

        var received = new Dictionary<int, List<long>>();
        int kills = 0;
        using var reader = RingReader.Attach(name, new RingEndpointOptions { PeerTimeout = TimeSpan.FromMilliseconds(400) });
        using var stopReading = new CancellationTokenSource();
        Task reading = Task.Run(() => Read(reader, received, stopReading.Token));
        // The first producer is killed holding a claim for sure (random kills land between claim and commit only now and then).
        ChildProcess[] producers = [.. Enumerable.Range(0, Producers).Select(i => Start(i == 0 ? "hold:2000" : ""))];
        try
        {
            foreach (ChildProcess producer in producers)
            {
                await producer.ReadyAsync();
            }

            await producers[0].WaitForLineAsync("CLAIMED");
            producers[0].Kill();
            await producers[0].WaitForExitAsync();
            kills++;
            producers[0] = Start();
            await producers[0].ReadyAsync();

            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < duration || kills < 4)
            {
                // A random moment: this delay is the chaos, not synchronisation.
                await Task.Delay(random.Next(20, 300));
                int victim = random.Next(Producers);
                producers[victim].Kill();
                await producers[victim].WaitForExitAsync();
                kills++;
                producers[victim] = Start();
                await producers[victim].ReadyAsync();
                Assert.False(reading.IsFaulted, reading.Exception?.ToString());
            }

            foreach (ChildProcess producer in producers)
            {
                await producer.Input.WriteLineAsync("stop");
                await producer.Input.FlushAsync();
                await producer.AssertExitCodeAsync(0);
            }

            // Every producer exited 0, so all it sent is committed: the reader drains the ring and ends. (It may already
            // have ended on the last writer's detach; or, having seen a killed producer's slot as the last word, be
            // waiting for a next producer: the cancellation ends that wait.)
            await stopReading.CancelAsync();
            await reading.WaitAsync(TestTimeouts.Unexpected);
        }
        finally
        {
            await stopReading.CancelAsync();
            foreach (ChildProcess child in started)
            {
                child.Dispose();
            }
        }

        long committed = 0;
        int unreported = 0;
        for (int id = 1; id <= nextId; id++)
        {
            List<long> logged = [.. ReliabilityScenarios.ReadLog(Path.Combine(folder.Path, $"m2o-{id}.log"), ReliabilityScenarios.ProducerRecordSize)
                .Select(record => BinaryPrimitives.ReadInt64LittleEndian(record))];
            List<long> got = received.GetValueOrDefault(id, []);
            committed += logged.Count;

            // In order, once, from 0 without a gap: the messages of one producer are a prefix of its sequence.
            Assert.Equal(Enumerable.Range(0, got.Count).Select(i => (long)i), got);

            // Everything reported committed arrived; at most the one in flight at the kill arrived unreported.
            Assert.True(got.Count >= logged.Count, $"Producer {id} reported {logged.Count} committed; {got.Count} arrived.");
            int extra = got.Count - logged.Count;
            Assert.True(extra <= 1, $"Producer {id}: {extra} messages arrived that it never reported.");
            Assert.True(extra == 0 || id <= nextId - Producers, "A producer that stopped cleanly reported every message it wrote.");
            unreported += extra;
        }

        ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
            $"many-to-one chaos (seed {seed}, {duration.TotalSeconds:F0} s): {kills} producer kills, {nextId} producers; {committed} reported committed, " +
            $"{received.Values.Sum(l => l.Count)} received in order, {unreported} received but unreported (in flight at a kill), {reader.HolesSkipped} holes skipped"));
        Assert.True(committed > 0, "The producers committed nothing.");
        Assert.True(reader.HolesSkipped >= 1, "The claim of the producer killed while holding it was not skipped.");
        Assert.Equal(received.Values.Sum(l => (long)l.Count), reader.MessagesReceived);
    }

    private static void Read(RingReader reader, Dictionary<int, List<long>> received, CancellationToken stopped)
    {
        while (true)
        {
            try
            {
                if (!reader.WaitForData(TestTimeouts.Unexpected, stopped))
                {
                    throw new TimeoutException("The ring stalled: no message for the unexpected timeout.");
                }
            }
            catch (IpcPeerGoneException exception) when (exception.Reason == IpcCloseReason.PeerClosed)
            {
                return;
            }
            catch (Exception exception) when (exception is IpcPeerGoneException or OperationCanceledException && stopped.IsCancellationRequested)
            {
                // Every producer has stopped: what is left is in the ring.
                while (Take(reader, received) > 0)
                {
                }

                return;
            }
            catch (IpcPeerGoneException)
            {
                // Every producer was dead for a moment (all killed between two restarts): the next ones come.
                continue;
            }

            Take(reader, received);
        }
    }

    private static int Take(RingReader reader, Dictionary<int, List<long>> received)
    {
        int taken = 0;
        foreach (RingRecord record in reader.ReadBatch())
        {
            if (ReliabilityScenarios.CheckChaos(record.Body) is not (int id, long sequence))
            {
                throw new InvalidOperationException($"A torn or foreign message at position {record.Position} ({record.Body.Length} bytes).");
            }

            if (!received.TryGetValue(id, out List<long>? list))
            {
                received[id] = list = [];
            }

            list.Add(sequence);
            taken++;
        }

        return taken;
    }
}
