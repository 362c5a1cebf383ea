using System.Globalization;
using System.Text;

namespace IpcKit.Benchmarks.Harness;

/// <summary>The table at the end of a harness run, and the ratios in it.</summary>
internal static class Report
{
    internal static string Size(int bytes) => bytes switch
    {
        0 => "-",
        >= 1024 => $"{bytes / 1024} KiB",
        _ => $"{bytes} B",
    };

    internal static string Headline(ScenarioResult result)
    {
        if (result.Skipped)
        {
            // No figure at all: a baseline that is not available here, or a run that failed (which counts an error).
            return result.Errors > 0 ? $"FAILED ({result.Note})" : $"skipped ({result.Note})";
        }

        var parts = new List<string>();
        if (result.Latency is { } latency)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"p50 {latency.P50:F2} µs, p99 {latency.P99:F2} µs"));
        }
        else if (result.MessagesPerSecond is double rate)
        {
            parts.Add(Rate(rate) + " msgs/s");
        }

        if (result.CpuCores.Count > 0)
        {
            parts.Add("CPU " + string.Join(", ", result.CpuCores.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Value * 100:F1}%"))));
        }

        if (result.Errors > 0)
        {
            parts.Add($"FAILED, {result.Errors} errors: {result.Note}");
        }

        return string.Join("; ", parts);
    }

    /// <summary>
    /// The ratio to the raw pipe measured in the same run for the same pattern and payload: throughput as
    /// "times the baseline" (higher is better), latency as p50 over the baseline's p50 (lower is better).
    /// </summary>
    internal static double? RatioToPipe(Measured measured, IReadOnlyList<Measured> all)
    {
        Measured? baseline = all.FirstOrDefault(m => m.Scenario.IsPipeBaseline && m.Scenario.CompareKey == UntypedKey(measured.Scenario));
        return baseline is null ? null : Ratio(measured, baseline);
    }

    /// <summary>The ratio to the C program of the same group, pattern and payload, where there is one.</summary>
    internal static double? RatioToNative(Measured measured, IReadOnlyList<Measured> all)
    {
        Measured? baseline = all.FirstOrDefault(m => m.Scenario.IsNativeBaseline && m.Scenario.Group == measured.Scenario.Group && m.Scenario.CompareKey == measured.Scenario.CompareKey);
        return baseline is null ? null : Ratio(measured, baseline);
    }

    /// <summary>
    /// The ratio to StreamJsonRpc (MessagePack formatter, same kind of pipe) for the same pattern and payload, same rule
    /// as <see cref="RatioToPipe"/>: the request rows (throughput at the same concurrency) and the round trip (p50).
    /// </summary>
    internal static double? RatioToRpc(Measured measured, IReadOnlyList<Measured> all)
    {
        if (measured.Scenario.IsRpcBaseline)
        {
            return null;
        }

        Measured? baseline = all.FirstOrDefault(m => m.Scenario.IsRpcBaseline && m.Scenario.CompareKey == measured.Scenario.CompareKey);
        return baseline is null ? null : Ratio(measured, baseline);
    }

    /// <summary>
    /// The bridge group: the ratio to NATS.Net used directly for the same pattern and payload, same rule as
    /// <see cref="RatioToPipe"/> (throughput: higher is better, at least 0.8x is the goal; round trip: p50 ratio, lower is better).
    /// </summary>
    internal static double? RatioToNats(Measured measured, IReadOnlyList<Measured> all)
    {
        if (measured.Scenario.IsNatsBaseline || measured.Scenario.Group != "bridge")
        {
            return null;
        }

        Measured? baseline = all.FirstOrDefault(m => m.Scenario.IsNatsBaseline && m.Scenario.CompareKey == measured.Scenario.CompareKey);
        return baseline is null ? null : Ratio(measured, baseline);
    }

    /// <summary>A typed contract of about 40 bytes is compared with the 32-byte raw payload of the same pattern.</summary>
    private static string UntypedKey(Scenario scenario) =>
        scenario.Kind.EndsWith(" typed", StringComparison.Ordinal)
            ? scenario.Kind[..^" typed".Length] + "/32"
            : scenario.CompareKey;

    private static double? Ratio(Measured measured, Measured baseline)
    {
        (ScenarioResult value, ScenarioResult reference) = (measured.Median, baseline.Median);
        if (measured.Scenario.ComparesLatency)
        {
            return value.Latency is not null && reference.Latency is { P50: > 0 } ? value.Latency.P50 / reference.Latency.P50 : null;
        }

        return value.MessagesPerSecond is double rate && reference.MessagesPerSecond is double baseRate && baseRate > 0 ? rate / baseRate : null;
    }

    internal static string Table(IReadOnlyList<Measured> all, string machine)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}");
        text.AppendLine("Figures are medians of the runs. 'vs pipe' compares with the raw .NET named pipe measured in the same run (one-way and requests: throughput, times faster; ping-pong, fixed-rate and the lock patterns: p50 ratio, lower is better); 'vs StreamJsonRpc' compares the same way with StreamJsonRpc (MessagePack formatter, named pipe) at the same pattern and concurrency; 'vs C' compares with the C program of the same pattern.");
        text.AppendLine();
        // The bridge group's column appears only where bridge scenarios ran.
        bool nats = all.Any(m => m.Scenario.Group == "bridge");
        if (nats)
        {
            text.AppendLine("'vs NATS.Net' compares the bridge with NATS.Net used directly on the same nats-server (one-way: throughput; ping-pong: p50 ratio); the goal is at least 0.8x throughput and at most 1.25x latency.");
            text.AppendLine();
        }

        text.AppendLine("| Group | Transport | Pattern | Payload | msgs/s | MB/s | p50 µs | p99 µs | p99.9 µs | max µs | CPU (cores) | alloc B/msg | vs pipe | vs StreamJsonRpc | vs C |" + (nats ? " vs NATS.Net |" : ""));
        text.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |" + (nats ? " ---: |" : ""));
        foreach (Measured m in all)
        {
            ScenarioResult r = m.Median;
            string Cell(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "";
            string cpu = string.Join(", ", r.CpuCores.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Value.ToString(c.Value < 0.1 ? "F3" : "F2", CultureInfo.InvariantCulture)}")));
            string vsPipe = m.Scenario.IsPipeBaseline ? "1 (baseline)" : FormatRatio(RatioToPipe(m, all));
            string vsRpc = m.Scenario.IsRpcBaseline ? "baseline" : FormatRatio(RatioToRpc(m, all));
            string vsC = m.Scenario.IsNativeBaseline ? "baseline" : FormatRatio(RatioToNative(m, all));
            string vsNats = !nats ? "" : m.Scenario.IsNatsBaseline ? " baseline |" : $" {FormatRatio(RatioToNats(m, all))} |";
            string note = r.Errors > 0 ? $" (FAILED, {r.Errors} errors: {r.Note})" : r.Note is null ? "" : $" ({r.Note})";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Scenario.Group} | {m.Scenario.Name}{note} | {m.Scenario.Kind} | {Size(m.Scenario.Payload)} | {(r.MessagesPerSecond is double rate ? Rate(rate) : "")} | {Cell(r.BytesPerSecond / 1e6, "F0")} | {Cell(r.Latency?.P50, "F2")} | {Cell(r.Latency?.P99, "F2")} | {Cell(r.Latency?.P999, "F2")} | {Cell(r.Latency?.Max, "F0")} | {cpu} | {Cell(r.AllocatedBytesPerMessage, "F2")} | {vsPipe} | {vsRpc} | {vsC} |{vsNats}");
        }

        return text.ToString();
    }

    private static string FormatRatio(double? ratio) => ratio is double r ? r.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "";

    private static string Rate(double rate) => rate >= 1e6
        ? (rate / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " M"
        : rate >= 1e3 ? (rate / 1e3).ToString("F1", CultureInfo.InvariantCulture) + " k" : rate.ToString("F0", CultureInfo.InvariantCulture);
}
