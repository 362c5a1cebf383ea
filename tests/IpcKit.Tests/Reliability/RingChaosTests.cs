using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.SharedMemory;
using IpcKit.Tests.Child;
using IpcKit.Tests.SharedMemory;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// A producer and a consumer process stream through a ring while the test SIGKILLs one or both at random moments and
/// starts them again. Afterwards: every message the producer reported committed (logged after its write returned)
/// was processed exactly once and in order; the only message processed without being reported is, at most once per
/// killed producer, the one it was writing when it died; every payload arrived intact.
/// </summary>
/// <remarks>
/// The consumer is exactly-once by storing each record's <see cref="RingRecord.Position"/> with its effect and
/// skipping records at or below the last one after a restart (a reader killed mid-batch gets the batch again).
/// </remarks>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class RingChaosTests(ITestOutputHelper output) : RingTestBase
{
    [Fact]
    public async Task Killed_producers_and_consumers_lose_nothing_and_process_each_message_once_in_order()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        TimeSpan duration = ReliabilitySettings.ChaosDuration;
        using var folder = new TempDirectory();

        // Small, so it fills and wraps all the time: both back-pressure directions and padding records are exercised.
        string name = CreateRing(64 * 1024);
        int producerIncarnation = 0;
        int consumerIncarnations = 0;
        var started = new List<ChildProcess>();
        ChildProcess Started(ChildProcess child)
        {
            started.Add(child);
            return child;
        }

        ChildProcess StartProducer() => Started(ChildProcess.Start("chaos-ring-producer", name, folder.Path, (++producerIncarnation).ToString(CultureInfo.InvariantCulture)));
        ChildProcess StartConsumer()
        {
            consumerIncarnations++;
            return Started(ChildProcess.Start("chaos-ring-consumer", name, folder.Path));
        }

        ChildProcess producer = StartProducer();
        ChildProcess consumer = StartConsumer();
        var kills = new Dictionary<string, int> { ["producer"] = 0, ["consumer"] = 0, ["both"] = 0 };
        try
        {
            await producer.ReadyAsync();
            await consumer.ReadyAsync();
            var clock = Stopwatch.StartNew();
            // At least a few kills even when a loaded machine makes every restart slow.
            while (clock.Elapsed < duration || kills.Values.Sum() < 3)
            {
                // A random moment: this delay is the chaos, not synchronisation.
                await Task.Delay(random.Next(20, 400));
                string victim = random.Next(5) switch { 0 or 1 => "producer", 2 or 3 => "consumer", _ => "both" };
                kills[victim]++;
                if (victim is "producer" or "both")
                {
                    producer = await RestartAsync(producer, StartProducer);
                }

                if (victim is "consumer" or "both")
                {
                    consumer = await RestartAsync(consumer, StartConsumer);
                }

                // The one that was not killed must still run: a consumer that exited 4 on a bad payload, or a
                // producer that crashed, is a failure to report now, not a process to restart at the next kill.
                AssertRunning(producer, "producer");
                AssertRunning(consumer, "consumer");
            }

            // The end: the producer stops between two writes and detaches; the consumer drains and sees it leave.
            await producer.Input.WriteLineAsync("stop");
            await producer.Input.FlushAsync();
            await producer.AssertExitCodeAsync(0);
            await consumer.AssertExitCodeAsync(0);
        }
        finally
        {
            foreach (ChildProcess child in started)
            {
                child.Dispose();
            }
        }

        ChaosResult result = Verify(folder.Path, producerIncarnation);
        int skips = started.Sum(child => child.Lines.Count(line => line.StartsWith("SKIP ", StringComparison.Ordinal)));
        int writerGone = started.Sum(child => child.Lines.Count(line => line.StartsWith("WRITER-GONE ", StringComparison.Ordinal)));
        int readerGone = started.Sum(child => child.Lines.Count(line => line.StartsWith("READER-GONE ", StringComparison.Ordinal)));
        ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
            $"ring chaos (seed {seed}, {duration.TotalSeconds:F0} s): kills producer={kills["producer"]} consumer={kills["consumer"]} both={kills["both"]}; " +
            $"{producerIncarnation} producers, {consumerIncarnations} consumers; {result.Committed} reported committed, {result.Processed} processed exactly once in order, " +
            $"{result.UnreportedLast} processed but unreported (the message in flight at a producer kill), {skips} redelivered records skipped by position, " +
            $"writer deaths seen by the reader {writerGone}, reader departures seen by the writer {readerGone}"));
        Assert.True(result.Committed > 0, "The producers committed nothing.");
        Assert.True(kills.Values.Sum() >= 3, "Too few kills for a chaos test.");
    }

    /// <summary>Kills a child and starts its successor; every exit is accounted for: it must be the kill that ended it.</summary>
    private static async Task<ChildProcess> RestartAsync(ChildProcess child, Func<ChildProcess> start)
    {
        child.Kill();
        await child.AssertKilledAsync();
        ChildProcess next = start();
        await next.ReadyAsync();
        return next;
    }

    private static void AssertRunning(ChildProcess child, string role) =>
        Assert.False(child.HasExited, $"The {role} exited on its own with {(child.HasExited ? child.ExitCode : 0)}. {child.Describe()}");

    private readonly record struct ChaosResult(long Committed, long Processed, int UnreportedLast);

    /// <summary>Checks the logs: exactly once, in order, nothing reported committed missing, nothing unexplained.</summary>
    private static ChaosResult Verify(string folder, int incarnations)
    {
        // What each producer incarnation reported committed.
        var committed = new Dictionary<int, List<long>>();
        for (int incarnation = 1; incarnation <= incarnations; incarnation++)
        {
            committed[incarnation] = [.. ReliabilityScenarios.ReadLog(Path.Combine(folder, $"producer-{incarnation}.log"), ReliabilityScenarios.ProducerRecordSize)
                .Select(record => BinaryPrimitives.ReadInt64LittleEndian(record))];
        }

        // What the consumers processed, in order.
        var processed = ReliabilityScenarios.ReadLog(Path.Combine(folder, "consumer.log"), ReliabilityScenarios.ConsumerRecordSize)
            .Select(record => (
                Position: BinaryPrimitives.ReadInt64LittleEndian(record),
                Incarnation: (int)BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(8)),
                Sequence: BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(16))))
            .ToList();

        // Exactly once and in order: positions strictly grow, and (incarnation, sequence) strictly grows.
        for (int i = 1; i < processed.Count; i++)
        {
            var (previous, current) = (processed[i - 1], processed[i]);
            Assert.True(current.Position > previous.Position, $"Record {i} at position {current.Position} follows position {previous.Position}: processed twice or out of order.");
            Assert.True(
                current.Incarnation > previous.Incarnation || (current.Incarnation == previous.Incarnation && current.Sequence == previous.Sequence + 1),
                $"Message {current.Incarnation}/{current.Sequence} follows {previous.Incarnation}/{previous.Sequence}: out of order, duplicated or with a gap.");
            if (current.Incarnation != previous.Incarnation)
            {
                // A new producer continues after the last sequence any producer logged: at most the unlogged one repeats.
                Assert.True(current.Sequence == previous.Sequence + 1 || current.Sequence == previous.Sequence,
                    $"Producer {current.Incarnation} starts at {current.Sequence} after {previous.Incarnation}/{previous.Sequence}: a gap.");
            }
        }

        var committedSets = committed.ToDictionary(pair => pair.Key, pair => pair.Value.ToHashSet());

        // Everything reported committed was processed.
        var processedSet = processed.Select(p => (p.Incarnation, p.Sequence)).ToHashSet();
        foreach ((int incarnation, List<long> sequences) in committed)
        {
            foreach (long sequence in sequences)
            {
                Assert.True(processedSet.Contains((incarnation, sequence)), $"Producer {incarnation} reported message {sequence} committed; it was never processed (lost).");
            }
        }

        // Processed but never reported: only the message a killed producer was writing, once per producer.
        int unreported = 0;
        foreach (var group in processed.Where(p => !committedSets[p.Incarnation].Contains(p.Sequence)).GroupBy(p => p.Incarnation))
        {
            List<long> logged = committed[group.Key];
            long expected = logged.Count == 0 ? -1 : logged[^1] + 1;
            Assert.True(group.Count() == 1, $"Producer {group.Key} has {group.Count()} processed messages it never reported committed.");
            Assert.True(group.Key < incarnations, "The last producer stopped cleanly; every message it wrote was reported.");
            if (expected >= 0)
            {
                Assert.Equal(expected, group.Single().Sequence);
            }

            unreported++;
        }

        return new ChaosResult(committed.Values.Sum(list => (long)list.Count), processed.Count, unreported);
    }
}
