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
                    Run = settings => OneWayAsync(settings, payload, strategy, typed: false),
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
            Name = "IpcKit ring, typed MessagePack Toy (~40 B)",
            Kind = "one-way typed",
            Payload = 40,
            Run = settings => OneWayAsync(settings, 40, "busy", typed: true),
        };

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

    internal static async Task<ScenarioResult> OneWayAsync(RunSettings settings, int payload, string strategy, bool typed)
    {
        long count = payload switch
        {
            <= 64 => settings.Count(20_000_000, 300_000),
            <= 1024 => settings.Count(4_000_000, 100_000),
            _ => settings.Count(150_000, 5_000),
        };
        long capacity = payload > 1024 ? 8 << 20 : 1 << 20;
        using var ring = new TemporaryRing(capacity);
        using BenchChild reader = BenchChild.Start("ring-reader", ring.Name, Text(count), strategy, typed ? "typed" : "raw");
        await reader.ReadyAsync();
        using BenchChild writer = BenchChild.Start("ring-writer", ring.Name, Text(count), Text(payload), strategy, typed ? "typed" : "raw");
        await writer.ReadyAsync();
        writer.Send("GO");
        ChildResult written = await writer.ResultAsync();
        ChildResult read = await reader.ResultAsync();
        return new ScenarioResult
        {
            MessagesPerSecond = read.Messages / read.Seconds,
            BytesPerSecond = typed ? null : read.Bytes / read.Seconds,
            CpuCores = Cores(("writer", written), ("reader", read)),
            AllocatedBytesPerMessage = (double)written.AllocatedBytes / written.Messages,
            Errors = read.Errors + written.Errors,
        };
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

        long count = payload switch
        {
            <= 64 => settings.Count(20_000_000, 300_000),
            <= 1024 => settings.Count(4_000_000, 100_000),
            _ => settings.Count(150_000, 5_000),
        };
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

        double messages = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1e6;
        return new ScenarioResult { MessagesPerSecond = messages, BytesPerSecond = messages * payload };
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

    [GeneratedRegex(@"([0-9.]+) M msgs/s")]
    private static partial Regex LimitsOutput();

    /// <summary>A uniquely named ring for one run, deleted afterwards.</summary>
    internal sealed class TemporaryRing : IDisposable
    {
        public TemporaryRing(long capacity)
        {
            Name = $"bench-{Guid.NewGuid():N}"[..20];
            RingBuffer.Create(Name, new RingOptions { Capacity = capacity });
        }

        public string Name { get; }

        public void Dispose() => RingBuffer.Delete(Name);
    }
}
