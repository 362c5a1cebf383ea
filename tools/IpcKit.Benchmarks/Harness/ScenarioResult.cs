using System.Text.Json.Serialization;

namespace IpcKit.Benchmarks.Harness;

/// <summary>What one run of a scenario measured. Absent figures are null.</summary>
public sealed record ScenarioResult
{
    /// <summary>Messages (or requests, or round trips) per second.</summary>
    public double? MessagesPerSecond { get; init; }

    /// <summary>Payload bytes per second.</summary>
    public double? BytesPerSecond { get; init; }

    /// <summary>Latency percentiles in microseconds (round trip for ping-pong, one way for fixed rate).</summary>
    public LatencySummary? Latency { get; init; }

    /// <summary>CPU time per process, in cores busy over the measured window (1.0 = one core all the time).</summary>
    public IReadOnlyDictionary<string, double> CpuCores { get; init; } = new Dictionary<string, double>();

    /// <summary>Managed bytes allocated per message on the measured side, where measured.</summary>
    public double? AllocatedBytesPerMessage { get; init; }

    /// <summary>Errors seen (failed requests, bad payloads); a run with errors is reported, not hidden.</summary>
    public long Errors { get; init; }

    /// <summary>A free-form note (for example why a baseline is not available).</summary>
    public string? Note { get; init; }

    [JsonIgnore]
    internal bool Skipped => MessagesPerSecond is null && Latency is null && CpuCores.Count == 0;
}

/// <summary>Latency percentiles from a histogram, in microseconds.</summary>
public sealed record LatencySummary(double P50, double P99, double P999, double Max, long Count);
