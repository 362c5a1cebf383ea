namespace IpcKit.Benchmarks.Harness;

/// <summary>One thing the harness measures: a transport, a pattern (one-way, ping-pong...) and a payload size.</summary>
internal sealed record Scenario
{
    /// <summary>ring, pipe or sem: what `ipckit bench GROUP` selects.</summary>
    public required string Group { get; init; }

    /// <summary>The transport as shown in the table, for example "IpcKit ring (busy-spin)".</summary>
    public required string Name { get; init; }

    /// <summary>The pattern, which decides the figure compared: one-way, ping-pong, fixed-rate, requests, idle.</summary>
    public required string Kind { get; init; }

    /// <summary>Payload bytes per message (0 where it does not apply).</summary>
    public int Payload { get; init; }

    /// <summary>The hand-written .NET named pipe every figure is compared with.</summary>
    public bool IsPipeBaseline { get; init; }

    /// <summary>A C program measuring the physical limit the targets refer to.</summary>
    public bool IsNativeBaseline { get; init; }

    /// <summary>Runs the scenario once.</summary>
    public required Func<RunSettings, Task<ScenarioResult>> Run { get; init; }

    /// <summary>The key that pairs a figure with its baseline: same pattern and payload.</summary>
    public string CompareKey => $"{Kind}/{Payload}";
}

/// <summary>What every scenario run may use.</summary>
internal sealed record RunSettings(bool Quick, NativeTools Native)
{
    /// <summary>Message counts shrink in quick mode so the whole harness runs in seconds.</summary>
    public long Count(long full, long quick) => Quick ? quick : full;
}
