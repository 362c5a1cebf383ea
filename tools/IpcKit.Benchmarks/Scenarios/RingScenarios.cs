using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using IpcKit.Benchmarks.Harness;
using IpcKit.SharedMemory;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>The ring, writer and reader in separate processes, and the C limits it is compared with.</summary>
internal static partial class RingScenarios
{
    internal static IEnumerable<Scenario> All()
    {
        foreach (int payload in new[] { 32, 1024, 65536 })
        {
            foreach (string strategy in new[] { "busy", "blocking" })
            {
                yield return new Scenario
                {
                    Group = "ring",
                    Name = $"IpcKit ring ({Describe(strategy)})",
                    Kind = "one-way",
                    Payload = payload,
                    Run = settings => OneWayAsync(settings, payload, strategy, "raw"),
                };
            }

            yield return new Scenario
            {
                Group = "ring",
                Name = "C ring (shared/limits/ring.c)",
                Kind = "one-way",
                Payload = payload,
                IsNativeBaseline = true,
                Run = settings => LimitsRingAsync(settings, payload),
            };
        }

        yield return new Scenario
        {
            Group = "ring",
            Name = "IpcKit ring (busy-spin, batches of 64)",
            Kind = "one-way",
            Payload = 32,
            Run = settings => OneWayAsync(settings, 32, "busy", "batch"),
        };

        yield return new Scenario
        {
            Group = "ring",
            Name = "IpcKit ring, typed MessagePack Toy (~40 B)",
            Kind = "one-way typed",
            Payload = 40,
            Run = settings => OneWayAsync(settings, 40, "busy", "typed"),
        };

        // The other kinds, beside as many separate one-to-one rings (more processes than this machine's cores
        // time-share: CPU per party is reported; more than one party per side waits hybrid, not busy).
        foreach (int parties in new[] { 1, 2, 4 })
        {
            string strategy = parties == 1 ? "busy" : "hybrid";
            yield return new Scenario
            {
                Group = "ring",
                Name = $"IpcKit many-to-one ring, {parties} producer{(parties == 1 ? "" : "s")} ({Describe(strategy)}; msgs/s in all)",
                Kind = "one-way",
                Payload = 32,
                Run = settings => KindAsync(settings, RingKind.ManyToOne, parties, 1, strategy),
            };
            yield return new Scenario
            {
                Group = "ring",
                Name = $"IpcKit broadcast ring, {parties} subscriber{(parties == 1 ? "" : "s")} ({Describe(strategy)}; msgs/s each gets)",
                Kind = "one-way",
                Payload = 32,
                Run = settings => KindAsync(settings, RingKind.Broadcast, 1, parties, strategy),
            };
            if (parties > 1)
            {
                yield return new Scenario
                {
                    Group = "ring",
                    Name = $"IpcKit ring x{parties}, separate one-to-one rings ({Describe(strategy)}; msgs/s in all)",
                    Kind = "one-way",
                    Payload = 32,
                    Run = settings => SeparateRingsAsync(settings, parties, strategy),
                };
            }
        }

        foreach (string strategy in new[] { "busy", "blocking" })
        {
            yield return new Scenario
            {
                Group = "ring",
                Name = $"IpcKit ring ({Describe(strategy)})",
                Kind = "ping-pong",
                Payload = 32,
                Run = settings => PingPongAsync(settings, strategy),
            };
        }

        yield return new Scenario
        {
            Group = "ring",
            Name = "C shared-memory spin",
            Kind = "ping-pong",
            Payload = 32,
            IsNativeBaseline = true,
            Run = settings => NativeAsync(settings, "spin_pingpong", settings.Count(1_000_000, 50_000)),
        };

        yield return new Scenario
        {
            Group = "ring",
            Name = "IpcKit ring (hybrid) at 100k msgs/s",
            Kind = "fixed-rate",
            Payload = 32,
            Run = settings => FixedRateAsync(settings, 100_000),
        };

        foreach (string strategy in new[] { "hybrid", "blocking" })
        {
            yield return new Scenario
            {
                Group = "ring",
                Name = $"IpcKit ring idle reader ({Describe(strategy)})",
                Kind = "idle",
                Run = settings => IdleAsync(settings, strategy),
            };
        }
    }

    internal static string Describe(string strategy) => strategy switch
    {
        "busy" => "busy-spin",
        "blocking" => "blocking",
        _ => "hybrid",
    };

    /// <summary>Warm-up before every measured window: long enough for tiered compilation to promote the hot loops.</summary>
    private static string WarmupMilliseconds(RunSettings settings) => settings.Quick ? "300" : "500";

    private static long OneWayCount(RunSettings settings, int payload) => payload switch
    {
        <= 64 => settings.Count(20_000_000, 300_000),
        <= 1024 => settings.Count(4_000_000, 100_000),
        _ => settings.Count(150_000, 5_000),
    };

    internal static async Task<ScenarioResult> OneWayAsync(RunSettings settings, int payload, string strategy, string mode)
    {
        long count = OneWayCount(settings, payload);

        // 1 MiB for every size, as the C probe it is compared with (a larger ring falls out of the caches).
        using var ring = new TemporaryRing(1 << 20);
        using BenchChild reader = BenchChild.Start("ring-reader", ring.Name, Text(count), strategy, mode == "typed" ? "typed" : "raw");
        await reader.ReadyAsync();
        using BenchChild writer = BenchChild.Start("ring-writer", ring.Name, Text(count), Text(payload), strategy, mode, WarmupMilliseconds(settings));
        await writer.ReadyAsync();
        writer.Send("GO");
        ChildResult written = await writer.ResultAsync();
        ChildResult read = await reader.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = read.Messages / read.Seconds,
            BytesPerSecond = mode == "typed" ? null : read.Bytes / read.Seconds,
            CpuCores = Cores(("writer", written), ("reader", read)),
            AllocatedBytesPerMessage = (double)written.AllocatedBytes / written.Messages,
            Errors = read.Errors + written.Errors,
        };
    }

    /// <summary>A many-to-one ring with <paramref name="writers"/> producers, or a broadcast ring with <paramref name="readers"/> subscribers.</summary>
    private static async Task<ScenarioResult> KindAsync(RunSettings settings, RingKind kind, int writers, int readers, string strategy)
    {
        long count = settings.Count(10_000_000, 200_000) / writers;
        using var ring = new TemporaryRing(1 << 20, kind);
        var parties = new List<BenchChild>();
        try
        {
            for (int i = 0; i < readers; i++)
            {
                parties.Add(BenchChild.Start("ring-reader", ring.Name, Text(count * writers), strategy, "raw"));
            }

            foreach (BenchChild reader in parties)
            {
                await reader.ReadyAsync();
            }

            for (int i = 0; i < writers; i++)
            {
                parties.Add(BenchChild.Start("ring-writer", ring.Name, Text(count), "32", strategy, "raw", WarmupMilliseconds(settings)));
            }

            foreach (BenchChild writer in parties.Skip(readers))
            {
                await writer.ReadyAsync();
            }

            foreach (BenchChild writer in parties.Skip(readers))
            {
                writer.Send("GO");
            }

            ChildResult[] results = [.. await Task.WhenAll(parties.Select(p => p.ResultAsync()))];
            ChildResult[] read = results[..readers];
            ChildResult[] written = results[readers..];
            return new ScenarioResult
            {
                // Many-to-one: what the reader received in all; broadcast: what the slowest subscriber received.
                MessagesPerSecond = read.Min(r => r.Messages / r.Seconds),
                BytesPerSecond = read.Min(r => r.Bytes / r.Seconds),
                CpuCores = Cores([.. written.Select((w, i) => ($"writer{(writers > 1 ? i + 1 : "")}", w)), .. read.Select((r, i) => ($"reader{(readers > 1 ? i + 1 : "")}", r))]),
                AllocatedBytesPerMessage = (double)written.Sum(w => w.AllocatedBytes) / written.Sum(w => w.Messages),
                Errors = results.Sum(r => r.Errors),
            };
        }
        finally
        {
            foreach (BenchChild party in parties)
            {
                party.Dispose();
            }
        }
    }

    /// <summary><paramref name="pairs"/> one-to-one rings side by side, each with its writer and reader: the figure the other kinds are judged beside.</summary>
    private static async Task<ScenarioResult> SeparateRingsAsync(RunSettings settings, int pairs, string strategy)
    {
        long count = settings.Count(10_000_000, 200_000) / pairs;
        var rings = Enumerable.Range(0, pairs).Select(_ => new TemporaryRing(1 << 20)).ToList();
        var parties = new List<BenchChild>();
        try
        {
            foreach (TemporaryRing ring in rings)
            {
                BenchChild reader = BenchChild.Start("ring-reader", ring.Name, Text(count), strategy, "raw");
                parties.Add(reader);
                await reader.ReadyAsync();
            }

            foreach (TemporaryRing ring in rings)
            {
                BenchChild writer = BenchChild.Start("ring-writer", ring.Name, Text(count), "32", strategy, "raw", WarmupMilliseconds(settings));
                parties.Add(writer);
                await writer.ReadyAsync();
            }

            foreach (BenchChild writer in parties.Skip(pairs))
            {
                writer.Send("GO");
            }

            ChildResult[] results = [.. await Task.WhenAll(parties.Select(p => p.ResultAsync()))];
            return new ScenarioResult
            {
                MessagesPerSecond = results[..pairs].Sum(r => r.Messages / r.Seconds),
                BytesPerSecond = results[..pairs].Sum(r => r.Bytes / r.Seconds),
                CpuCores = Cores([.. results.Select((r, i) => ($"{(i < pairs ? "reader" : "writer")}{(i % pairs) + 1}", r))]),
                Errors = results.Sum(r => r.Errors),
            };
        }
        finally
        {
            foreach (BenchChild party in parties)
            {
                party.Dispose();
            }

            foreach (TemporaryRing ring in rings)
            {
                ring.Dispose();
            }
        }
    }

    private static async Task<ScenarioResult> PingPongAsync(RunSettings settings, string strategy)
    {
        long count = strategy == "busy" ? settings.Count(1_000_000, 20_000) : settings.Count(50_000, 2_000);
        using var there = new TemporaryRing(1 << 16);
        using var back = new TemporaryRing(1 << 16);
        using BenchChild pong = BenchChild.Start("ring-pong", there.Name, back.Name, Text(count), "32", strategy);
        await pong.ReadyAsync();
        using BenchChild ping = BenchChild.Start("ring-ping", there.Name, back.Name, Text(count), "32", strategy);
        await ping.ReadyAsync();
        ping.Send("GO");
        ChildResult pinged = await ping.ResultAsync();
        ChildResult ponged = await pong.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = pinged.Messages / pinged.Seconds,
            Latency = pinged.Latency,
            CpuCores = Cores(("ping", pinged), ("pong", ponged)),
            AllocatedBytesPerMessage = (double)pinged.AllocatedBytes / pinged.Messages,
        };
    }

    private static async Task<ScenarioResult> FixedRateAsync(RunSettings settings, double rate)
    {
        long count = settings.Count(300_000, 20_000);
        using var ring = new TemporaryRing(1 << 20);
        using BenchChild reader = BenchChild.Start("ring-latency-reader", ring.Name, Text(count), "hybrid");
        await reader.ReadyAsync();
        using BenchChild writer = BenchChild.Start("ring-paced-writer", ring.Name, Text(count), "32", rate.ToString(CultureInfo.InvariantCulture));
        await writer.ReadyAsync();
        writer.Send("GO");
        ChildResult written = await writer.ResultAsync();
        ChildResult read = await reader.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = read.Messages / read.Seconds,
            Latency = read.Latency,
            CpuCores = Cores(("writer", written), ("reader", read)),
        };
    }

    private static async Task<ScenarioResult> IdleAsync(RunSettings settings, string strategy)
    {
        using var ring = new TemporaryRing(1 << 16);
        using BenchChild reader = BenchChild.Start("ring-idle-reader", ring.Name, settings.Quick ? "1" : "4", strategy, settings.Quick ? "1" : "8");
        await reader.ReadyAsync();
        ChildResult idle = await reader.ResultAsync();
        return new ScenarioResult { CpuCores = Cores(("reader", idle)) };
    }

    private static async Task<ScenarioResult> LimitsRingAsync(RunSettings settings, int payload)
    {
        string? ring = settings.Native.Get("limits-ring");
        if (ring is null)
        {
            return new ScenarioResult { Note = settings.Native.Unavailable ?? "shared/limits/ring.c not found (set IPCKIT_LIMITS_DIR)" };
        }

        long count = OneWayCount(settings, payload);
        var start = new ProcessStartInfo(ring) { RedirectStandardOutput = true };
        start.ArgumentList.Add(Text(payload));
        start.ArgumentList.Add(Text(count));
        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Match match = LimitsOutput().Match(output);
        if (!match.Success)
        {
            return new ScenarioResult { Note = $"unexpected output: {output.Trim()}", Errors = 1 };
        }

        // From GB/s (two decimals) rather than "M msgs/s" (one): at 64 KiB a short run's 0.03 M would print as 0.0.
        double bytes = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) * 1e9;
        return new ScenarioResult { MessagesPerSecond = bytes / payload, BytesPerSecond = bytes };
    }

    internal static async Task<ScenarioResult> NativeAsync(RunSettings settings, string program, long count)
    {
        string? path = settings.Native.Get(program);
        if (path is null)
        {
            return new ScenarioResult { Note = settings.Native.Unavailable ?? $"{program}.c not found" };
        }

        using BenchChild child = BenchChild.StartNative(path, program, Text(count));
        ChildResult result = await child.ResultAsync();
        return new ScenarioResult { MessagesPerSecond = result.Messages / result.Seconds, Latency = result.Latency };
    }

    internal static IReadOnlyDictionary<string, double> Cores(params (string Role, ChildResult Result)[] parties) =>
        parties.ToDictionary(p => p.Role, p => p.Result.Seconds > 0 ? p.Result.CpuSeconds / p.Result.Seconds : 0, StringComparer.Ordinal);

    internal static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"([0-9.]+) M msgs/s, ([0-9.]+) GB/s")]
    private static partial Regex LimitsOutput();

    /// <summary>A uniquely named ring for one run, deleted afterwards.</summary>
    internal sealed class TemporaryRing : IDisposable
    {
        public TemporaryRing(long capacity, RingKind kind = RingKind.OneToOne)
        {
            Name = $"bench-{Guid.NewGuid():N}"[..20];
            RingBuffer.Create(Name, new RingOptions { Capacity = capacity, Kind = kind });
        }

        public string Name { get; }

        public void Dispose() => RingBuffer.Delete(Name);
    }
}
