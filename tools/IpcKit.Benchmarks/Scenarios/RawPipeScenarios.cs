using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>The baseline of every table: a .NET named pipe used by hand, one write call per message.</summary>
internal static class RawPipeScenarios
{
    internal static IEnumerable<Scenario> All()
    {
        foreach (int payload in new[] { 32, 1024, 65536 })
        {
            yield return new Scenario
            {
                Group = "pipe",
                Name = "raw .NET named pipe (baseline)",
                Kind = "one-way",
                Payload = payload,
                IsPipeBaseline = true,
                Run = settings => RunAsync(settings, "oneway", payload),
            };
        }

        yield return new Scenario
        {
            Group = "pipe",
            Name = "raw .NET named pipe (baseline)",
            Kind = "ping-pong",
            Payload = 32,
            IsPipeBaseline = true,
            Run = settings => RunAsync(settings, "echo", 32),
        };
    }

    private static async Task<ScenarioResult> RunAsync(RunSettings settings, string mode, int payload)
    {
        long count = (mode, payload) switch
        {
            ("echo", _) => settings.Count(50_000, 2_000),
            (_, <= 64) => settings.Count(2_000_000, 50_000),
            (_, <= 1024) => settings.Count(1_000_000, 20_000),
            _ => settings.Count(100_000, 2_000),
        };
        string name = $"ipckit-bench-{Guid.NewGuid():N}"[..28];
        using BenchChild server = BenchChild.Start("rawpipe-server", name, mode, RingScenarios.Text(count), RingScenarios.Text(payload));
        await server.ReadyAsync();
        using BenchChild client = BenchChild.Start("rawpipe-client", name, mode, RingScenarios.Text(count), RingScenarios.Text(payload));
        await client.ReadyAsync();
        client.Send("GO");
        ChildResult sent = await client.ResultAsync();
        ChildResult received = await server.ResultAsync();
        return mode == "echo"
            ? new ScenarioResult
            {
                MessagesPerSecond = sent.Messages / sent.Seconds,
                Latency = sent.Latency,
                CpuCores = RingScenarios.Cores(("client", sent), ("server", received)),
            }
            : new ScenarioResult
            {
                MessagesPerSecond = received.Messages / received.Seconds,
                BytesPerSecond = received.Bytes / received.Seconds,
                CpuCores = RingScenarios.Cores(("client", sent), ("server", received)),
                AllocatedBytesPerMessage = (double)sent.AllocatedBytes / sent.Messages,
            };
    }
}
