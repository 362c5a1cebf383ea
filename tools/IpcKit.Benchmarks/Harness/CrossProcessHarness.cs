using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using IpcKit.Benchmarks.Scenarios;

namespace IpcKit.Benchmarks.Harness;

/// <summary>Options of one harness invocation (`ipckit bench` and `IpcKit.Benchmarks`).</summary>
/// <param name="Group">ring, pipe, sem or all.</param>
/// <param name="Json">Print one JSON document instead of the table.</param>
/// <param name="Quick">A few seconds in all: small counts and one run per scenario (a smoke test).</param>
/// <param name="Runs">Runs per scenario; figures are the medians.</param>
/// <param name="Filter">Only scenarios whose transport or pattern contains this text (baselines included only if they match too).</param>
public sealed record BenchmarkOptions(string Group = "all", bool Json = false, bool Quick = false, int Runs = 3, string? Filter = null);

/// <summary>
/// The cross-process benchmark harness: runs each scenario's parties as separate processes, several times,
/// reports medians and every figure as a ratio to the hand-written named-pipe baseline measured in the same run
/// (and, for the ring and the semaphore, to the C program measuring the physical limit).
/// </summary>
public static class CrossProcessHarness
{
    /// <summary>The groups the harness knows.</summary>
    public static IReadOnlyList<string> Groups { get; } = ["ring", "pipe", "sem", "bridge", "all"];

    /// <summary>Runs the harness; progress goes to <paramref name="progress"/>, the report to <paramref name="output"/>. Returns an exit code.</summary>
    public static async Task<int> RunAsync(BenchmarkOptions options, TextWriter output, TextWriter progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Groups.Contains(options.Group))
        {
            throw new ArgumentException($"Unknown group '{options.Group}'; use one of {string.Join(", ", Groups)}.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.Runs, 1);
        List<Scenario> scenarios = Catalog()
            .Where(s => options.Group == "all" || s.Group == options.Group || s.IsPipeBaseline)
            .Where(s => options.Filter is null
                || s.IsPipeBaseline
                || s.Name.Contains(options.Filter, StringComparison.OrdinalIgnoreCase)
                || s.Kind.Contains(options.Filter, StringComparison.OrdinalIgnoreCase))
            .ToList();

        using var native = new NativeTools();
        var settings = new RunSettings(options.Quick, native);
        int runs = options.Quick ? 1 : options.Runs;
        var measured = new List<Measured>();
        for (int i = 0; i < scenarios.Count; i++)
        {
            Scenario scenario = scenarios[i];
            var results = new List<ScenarioResult>();
            for (int run = 1; run <= runs; run++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ScenarioResult result;
                long started = Stopwatch.GetTimestamp();
                try
                {
                    result = await scenario.Run(settings).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    result = new ScenarioResult { Errors = 1, Note = $"failed: {exception.Message}" };
                }

                results.Add(result);
                await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"[{i + 1}/{scenarios.Count}] {scenario.Group} {scenario.Name}, {scenario.Kind}, {Report.Size(scenario.Payload)}, run {run}/{runs}: {Report.Headline(result)} ({Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s)")).ConfigureAwait(false);
                if (result.Skipped)
                {
                    break;
                }
            }

            measured.Add(new Measured(scenario, Median(results), results));
        }

        if (options.Json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(Document(options, measured), ChildResult.Json)).ConfigureAwait(false);
        }
        else
        {
            await output.WriteAsync(Report.Table(measured, Machine())).ConfigureAwait(false);
            if (options.Quick)
            {
                await output.WriteLineAsync(
                    "quick: one short run per scenario (every party warmed up first, so the figures are of optimized code), but runs this short on a shared machine are indicative only: compare them with each other, not with full runs or the README.").ConfigureAwait(false);
            }
        }

        return measured.Any(m => m.Median.Errors > 0) ? (int)IpcExitCode.Error : 0;
    }

    private static IEnumerable<Scenario> Catalog() =>
        RawPipeScenarios.All()
            .Concat(PipeChannelScenarios.All())
            .Concat(RingScenarios.All())
            .Concat(SemaphoreScenarios.All())
            .Concat(BridgeScenarios.All());

    private static ScenarioResult Median(List<ScenarioResult> results)
    {
        static double? MedianOf(IEnumerable<double?> values)
        {
            double[] present = values.Where(v => v is not null).Select(v => v!.Value).Order().ToArray();
            return present.Length == 0 ? null : present.Length % 2 == 1 ? present[present.Length / 2] : (present[present.Length / 2 - 1] + present[present.Length / 2]) / 2;
        }

        LatencySummary? latency = null;
        if (results.Any(r => r.Latency is not null))
        {
            IEnumerable<LatencySummary> all = results.Where(r => r.Latency is not null).Select(r => r.Latency!);
            latency = new LatencySummary(
                MedianOf(all.Select(l => (double?)l.P50))!.Value,
                MedianOf(all.Select(l => (double?)l.P99))!.Value,
                MedianOf(all.Select(l => (double?)l.P999))!.Value,
                MedianOf(all.Select(l => (double?)l.Max))!.Value,
                all.Sum(l => l.Count));
        }

        return new ScenarioResult
        {
            MessagesPerSecond = MedianOf(results.Select(r => r.MessagesPerSecond)),
            BytesPerSecond = MedianOf(results.Select(r => r.BytesPerSecond)),
            Latency = latency,
            CpuCores = results.SelectMany(r => r.CpuCores.Keys).Distinct()
                .ToDictionary(k => k, k => MedianOf(results.Select(r => r.CpuCores.TryGetValue(k, out double v) ? v : (double?)null)) ?? 0),
            AllocatedBytesPerMessage = MedianOf(results.Select(r => r.AllocatedBytesPerMessage)),
            Errors = results.Sum(r => r.Errors),
            Note = string.Join("; ", results.Select(r => r.Note).Where(n => n is not null).Distinct()) is { Length: > 0 } note ? note : null,
        };
    }

    private static object Document(BenchmarkOptions options, List<Measured> measured) => new
    {
        machine = Machine(),
        runtime = RuntimeInformation.FrameworkDescription,
        date = DateTimeOffset.UtcNow,
        options.Group,
        options.Quick,
        runs = options.Quick ? 1 : options.Runs,
        scenarios = measured.Select(m => new
        {
            group = m.Scenario.Group,
            name = m.Scenario.Name,
            kind = m.Scenario.Kind,
            payload = m.Scenario.Payload,
            baseline = m.Scenario.IsPipeBaseline ? "pipe" : m.Scenario.IsNativeBaseline ? "native" : m.Scenario.IsRpcBaseline ? "rpc" : m.Scenario.IsNatsBaseline ? "nats" : null,
            median = m.Median,
            vsRawPipe = Report.RatioToPipe(m, measured),
            vsStreamJsonRpc = Report.RatioToRpc(m, measured),
            vsNative = Report.RatioToNative(m, measured),
            vsNats = Report.RatioToNats(m, measured),
            runs = m.Runs,
        }),
    };

    internal static string Machine()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }

        double memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return string.Create(CultureInfo.InvariantCulture,
            $"{cpu}, {Environment.ProcessorCount} logical CPUs, {memory:F0} GiB, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
    }
}

/// <summary>A scenario with its median result and every run.</summary>
internal sealed record Measured(Scenario Scenario, ScenarioResult Median, IReadOnlyList<ScenarioResult> Runs);
