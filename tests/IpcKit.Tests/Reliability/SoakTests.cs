using System.Diagnostics;
using System.Globalization;
using System.Text;
using IpcKit.Tests.SharedMemory;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Mixed traffic for a while (one minute in CI, ten from tools/soak/run.sh): a ring writer and a reader that detaches
/// and attaches again every 2 s, a pipe server and three clients that connect, run a burst of checked requests and
/// one-way messages, and disconnect, over and over. Every interval the test records each process's throughput, its
/// managed heap after a full collection, its resident memory (/proc/PID/status) and open descriptors (/proc/PID/fd),
/// and the ring's entries in /dev/shm and the pipe's in its socket folder. After a warm-up none of these may grow
/// beyond a stated tolerance, and no interval may pass without progress.
/// </summary>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class SoakTests(ITestOutputHelper output) : RingTestBase
{
    // Tolerances, end against the sample after the warm-up (JIT, pools and tiered code settle in the first seconds).
    private const int DescriptorTolerance = 5;
    private const double HeapGrowthFactor = 1.5;
    private const long HeapSlack = 4L << 20;
    private const double RssGrowthFactor = 1.3;
    private const long RssSlack = 48L << 20;

    [Fact]
    public async Task Mixed_traffic_keeps_memory_descriptors_and_shared_memory_flat()
    {
        TimeSpan duration = ReliabilitySettings.SoakDuration;
        TimeSpan interval = TimeSpan.FromSeconds(Math.Max(5, duration.TotalSeconds / 12));
        string ring = CreateRing(256 * 1024);
        string pipe = UniqueName.Next("soak");
        var children = new List<(string Role, ChildProcess Process)>();
        try
        {
            children.Add(("ring writer", ChildProcess.Start("soak-ring-writer", ring)));
            children.Add(("ring reader", ChildProcess.Start("soak-ring-reader", ring)));
            children.Add(("pipe server", ChildProcess.Start("soak-pipe-server", pipe)));
            foreach ((_, ChildProcess child) in children)
            {
                await child.ReadyAsync();
            }

            for (int i = 1; i <= 3; i++)
            {
                ChildProcess client = ChildProcess.Start("soak-pipe-client", pipe);
                children.Add(($"pipe client {i}", client));
                await client.ReadyAsync();
            }

            string socketFolder = Path.GetDirectoryName(IpcName.GetPipePath(pipe))!;
            Resources start = Resources.Of(ring, pipe, socketFolder);
            var samples = new List<Sample>();
            var clock = Stopwatch.StartNew();
            while (true)
            {
                samples.Add(await SampleAsync(children, clock.Elapsed));
                AssertProgress(samples);
                if (clock.Elapsed >= duration)
                {
                    break;
                }

                // Sampling cadence, not synchronisation: the processes run on their own meanwhile.
                await Task.Delay(interval);
            }

            // Stopped in the order the traffic depends on: the pipe clients first (each finishes its request in
            // flight and disconnects), then the server they talk to; the ring writer before its reader, which drains
            // and stops once the writer detached. Stopping the server first made a client mid-request fail with
            // IpcPeerGoneException, which is no bug of the pipe but a wrong shutdown.
            foreach (string[] phase in (string[][])[["pipe client"], ["pipe server"], ["ring writer"], ["ring reader"]])
            {
                List<(string Role, ChildProcess Process)> stopping = [.. children.Where(child => phase.Any(role => child.Role.StartsWith(role, StringComparison.Ordinal)))];
                foreach ((string role, ChildProcess child) in stopping)
                {
                    await SendAsync(role, child, "stop");
                }

                foreach ((_, ChildProcess child) in stopping)
                {
                    await child.WaitForLineAsync("STOPPED");
                    await child.AssertExitCodeAsync(0);
                }
            }

            Resources end = Resources.Of(ring, pipe, socketFolder);
            string report = Report(samples, start, end, duration);
            ReliabilitySettings.Report(output, "soak.md", report);
            AssertFlat(samples, start, end);
            Assert.DoesNotContain(children.SelectMany(child => child.Process.Lines), line => line.StartsWith("UNEXPECTED-CLOSE", StringComparison.Ordinal));
        }
        catch (Exception failure) when (children.Any(child => child.Process.HasExited && child.Process.ExitCode != 0))
        {
            // A child that died is the story behind most failures here (no progress, a missing STATS line): its
            // exit code and stderr go into the failure itself, not only into a log nobody keeps.
            throw new InvalidOperationException(
                $"{failure.Message}\n\nChild processes that died:\n{string.Join("\n", children.Where(child => child.Process.HasExited && child.Process.ExitCode != 0).Select(child => $"{child.Role}: {child.Process.Describe()}"))}",
                failure);
        }
        finally
        {
            foreach ((_, ChildProcess child) in children)
            {
                child.Dispose();
            }
        }
    }

    private static async Task<Sample> SampleAsync(List<(string Role, ChildProcess Process)> children, TimeSpan at)
    {
        var stats = new Dictionary<string, Stats>();
        foreach ((string role, ChildProcess child) in children)
        {
            await SendAsync(role, child, "stats");
            string line = await child.WaitForLineAsync("STATS ");
            stats[role] = Stats.Parse(line, child.Id);
        }

        return new Sample(at, stats);
    }

    /// <summary>Writes a command to a child's stdin; a child that is gone fails with its exit code and stderr, not with "Broken pipe".</summary>
    private static async Task SendAsync(string role, ChildProcess child, string command)
    {
        try
        {
            await child.Input.WriteLineAsync(command);
            await child.Input.FlushAsync();
        }
        catch (IOException exception)
        {
            await child.WaitForExitAsync();
            throw new InvalidOperationException($"The {role} could not be sent '{command}': it has exited. {child.Describe()}", exception);
        }
    }

    private static void AssertProgress(List<Sample> samples)
    {
        if (samples.Count < 2)
        {
            return;
        }

        Sample previous = samples[^2];
        Sample last = samples[^1];
        Assert.True(last.Stats["ring reader"].Messages > previous.Stats["ring reader"].Messages, $"The ring made no progress between {previous.At} and {last.At}.");
        Assert.True(Sum(last, "pipe client", s => s.Requests) > Sum(previous, "pipe client", s => s.Requests), $"The pipe made no progress between {previous.At} and {last.At}.");
    }

    private static void AssertFlat(List<Sample> samples, Resources start, Resources end)
    {
        Sample baseline = samples[Math.Min(2, samples.Count - 1)];
        Sample last = samples[^1];
        foreach ((string role, Stats first) in baseline.Stats)
        {
            Stats now = last.Stats[role];

            // A leak raises the floor; a sample taken while a client is between connections can catch a few
            // descriptors in passing (one 60 s run saw +6 in its very last sample only). So the lowest of the last
            // three samples must stay within the tolerance.
            int floor = samples.Skip(Math.Max(samples.Count - 3, 0)).Min(sample => sample.Stats[role].Descriptors);
            Assert.True(floor <= first.Descriptors + DescriptorTolerance, $"The {role}'s open descriptors grew from {first.Descriptors} to {floor} (the lowest of the last three samples).");
            Assert.True(now.Heap <= (long)(first.Heap * HeapGrowthFactor) + HeapSlack, $"The {role}'s managed heap grew from {Mb(first.Heap)} to {Mb(now.Heap)}.");
            Assert.True(now.Rss <= (long)(first.Rss * RssGrowthFactor) + RssSlack, $"The {role}'s resident memory grew from {Mb(first.Rss)} to {Mb(now.Rss)}.");
            Assert.Equal(0, now.Errors);
        }

        Assert.Equal(start.SharedMemory, end.SharedMemory);
        Assert.Equal(3, start.SharedMemory.Count);
        Assert.Empty(end.Sockets);
    }

    private static string Report(List<Sample> samples, Resources start, Resources end, TimeSpan duration)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"soak, {duration.TotalSeconds:F0} s: ring 256 KiB (writer; reader reattaching every 2 s), pipe server with 3 clients connecting and disconnecting");
        text.AppendLine("| t (s) | ring msg/s | ring MB/s | pipe req/s | pipe msg/s | connects/s | RSS MB (writer, reader, server, clients) | heap MB (same) | fds (same) |");
        text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |");
        for (int i = 0; i < samples.Count; i++)
        {
            Sample s = samples[i];
            string rates = "| | | | | ";
            if (i > 0)
            {
                Sample p = samples[i - 1];
                double seconds = (s.At - p.At).TotalSeconds;
                double Rate(Func<Sample, double> value) => (value(s) - value(p)) / seconds;
                rates = string.Create(CultureInfo.InvariantCulture,
                    $"| {Rate(x => x.Stats["ring reader"].Messages):F0} | {Rate(x => x.Stats["ring reader"].Bytes) / 1e6:F1} | {Rate(x => Sum(x, "pipe client", c => c.Requests)):F0} | {Rate(x => Sum(x, "pipe client", c => c.Messages)):F0} | {Rate(x => Sum(x, "", c => c.Connects)):F1} ");
            }

            string Each(Func<Stats, string> value) => string.Join(", ", s.Stats.Values.Select(value));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.At.TotalSeconds:F0} {rates}| {Each(x => Mb(x.Rss))} | {Each(x => Mb(x.Heap))} | {Each(x => x.Descriptors.ToString(CultureInfo.InvariantCulture))} |");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"/dev/shm entries of the ring at the start: {string.Join(" ", start.SharedMemory)}; at the end: {string.Join(" ", end.SharedMemory)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"socket folder entries of the pipe at the start: {string.Join(" ", start.Sockets)}; at the end: {(end.Sockets.Count == 0 ? "none" : string.Join(" ", end.Sockets))}");
        return text.ToString();
    }

    private static double Sum(Sample sample, string prefix, Func<Stats, double> value) =>
        sample.Stats.Where(pair => pair.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(pair => value(pair.Value));

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

    private sealed record Sample(TimeSpan At, Dictionary<string, Stats> Stats);

    /// <summary>A child's counters and heap from its STATS line; resident memory and descriptors read from /proc by this process.</summary>
    private sealed record Stats(long Messages, long Requests, long Bytes, long Connects, long Errors, long Heap, long Rss, int Descriptors)
    {
        public static Stats Parse(string line, int pid)
        {
            Dictionary<string, string> fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(field => field.Split('=', 2))
                .Where(pair => pair.Length == 2)
                .ToDictionary(pair => pair[0], pair => pair[1]);
            long Field(string key) => long.Parse(fields[key], CultureInfo.InvariantCulture);
            return new Stats(Field("messages"), Field("requests"), Field("bytes"), Field("connects"), Field("errors"), Field("heap"), ResidentBytes(pid), Directory.GetFiles($"/proc/{pid}/fd").Length);
        }

        private static long ResidentBytes(int pid)
        {
            string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
    }

    /// <summary>The ring's files in /dev/shm (file and two semaphores) and the pipe's files in the socket folder.</summary>
    private sealed record Resources(List<string> SharedMemory, List<string> Sockets)
    {
        public static Resources Of(string ring, string pipe, string socketFolder)
        {
            string shm = Path.GetDirectoryName(IpcName.GetRingPath(ring))!;
            List<string> shared = [.. Directory.EnumerateFileSystemEntries(shm).Select(entry => Path.GetFileName(entry)).Where(entry => entry.Contains(ring, StringComparison.Ordinal)).Order()];
            List<string> sockets = Directory.Exists(socketFolder)
                ? [.. Directory.EnumerateFileSystemEntries(socketFolder).Select(entry => Path.GetFileName(entry)).Where(entry => entry.StartsWith(pipe + ".", StringComparison.Ordinal)).Order()]
                : [];
            return new Resources(shared, sockets);
        }
    }
}
