namespace IpcKit.Benchmarks.Harness;

/// <summary>One thing the harness measures: a transport, a pattern (one-way, ping-pong...) and a payload size.</summary>
internal sealed record Scenario
{
    /// <summary>ring, pipe, sem or bridge: what `ipckit bench GROUP` selects.</summary>
    public required string Group { get; init; }

    /// <summary>The transport as shown in the table, for example "IpcKit ring (busy-spin)".</summary>
    public required string Name { get; init; }

    /// <summary>The pattern, which decides the figure compared: one-way, ping-pong, fixed-rate, requests, idle, uncontended, hand-off, takeover.</summary>
    public required string Kind { get; init; }

    /// <summary>Payload bytes per message (0 where it does not apply).</summary>
    public int Payload { get; init; }

    /// <summary>The hand-written .NET named pipe every figure is compared with.</summary>
    public bool IsPipeBaseline { get; init; }

    /// <summary>A C program measuring the physical limit the targets refer to.</summary>
    public bool IsNativeBaseline { get; init; }

    /// <summary>StreamJsonRpc, the RPC library the pipe channel's requests are compared with ("vs StreamJsonRpc").</summary>
    public bool IsRpcBaseline { get; init; }

    /// <summary>NATS.Net used directly, which the bridge group is compared with ("vs NATS.Net").</summary>
    public bool IsNatsBaseline { get; init; }

    /// <summary>Runs the scenario once.</summary>
    public required Func<RunSettings, Task<ScenarioResult>> Run { get; init; }

    /// <summary>The key that pairs a figure with its baseline: same pattern and payload.</summary>
    public string CompareKey => $"{Kind}/{Payload}";

    /// <summary>
    /// Whether this pattern is judged by its latency (ping-pong, fixed-rate, and the lock patterns uncontended, hand-off,
    /// takeover: p50 ratio, lower is better) rather than by its throughput (one-way, requests: rate ratio, higher is
    /// better), even where both were measured. An uncontended lock's rate includes the timing of every pair; its p50 is
    /// the pair itself.
    /// </summary>
    public bool ComparesLatency => Kind is "ping-pong" or "fixed-rate" or "uncontended" or "hand-off" or "takeover";
}

/// <summary>What every scenario run may use.</summary>
internal sealed record RunSettings(bool Quick, NativeTools Native)
{
    /// <summary>Message counts shrink in quick mode so the whole harness runs in seconds.</summary>
    public long Count(long full, long quick) => Quick ? quick : full;

    /// <summary>Messages of a one-way run over a pipe-like transport, by payload: the same for every such transport.</summary>
    public long OneWayCount(int payload) => payload switch
    {
        <= 64 => Count(2_000_000, 50_000),
        <= 1024 => Count(1_000_000, 20_000),
        _ => Count(100_000, 500),
    };

    /// <summary>
    /// Messages (or round trips) each party sends before its measured window: every party is a fresh process, and this
    /// lets tiered JIT, pools and socket buffers settle. A tenth of the run, at most 20,000.
    /// </summary>
    public static long Warmup(long count) => Math.Min(count / 10, 20_000);
}
