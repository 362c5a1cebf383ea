using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>The baseline of every table: a .NET named pipe used by hand, one write call per message.</summary>
internal static class RawPipeScenarios
{
    /// <summary>Requests one client keeps outstanding in the request-throughput rows (raw pipe, IpcKit, StreamJsonRpc).</summary>
    internal const int InFlight = 64;

    /// <summary>Measured requests of a request-throughput run, the same for every transport.</summary>
    internal static long RequestCount(RunSettings settings) => settings.Count(100_000, 3_000);

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

        yield return new Scenario
        {
            Group = "pipe",
            Name = $"raw .NET named pipe (baseline), {InFlight} in flight",
            Kind = "requests",
            Payload = 32,
            IsPipeBaseline = true,
            Run = settings => RunAsync(settings, "pipelined", 32),
        };
    }

    private static async Task<ScenarioResult> RunAsync(RunSettings settings, string mode, int payload)
    {
        long count = mode switch
        {
            "echo" => settings.Count(50_000, 2_000),
            "pipelined" => RequestCount(settings),
            _ => settings.OneWayCount(payload),
        };
        string warmup = RingScenarios.Text(RunSettings.Warmup(count));
        using var pipe = new TemporaryPipeName();
        string name = pipe.Name;
        using BenchChild server = BenchChild.Start("rawpipe-server", name, mode == "oneway" ? "oneway" : "echo", RingScenarios.Text(count), RingScenarios.Text(payload), warmup);

        // Both start at once (process start-up is most of a quick run): the client's Connect waits for the server.
        using BenchChild client = BenchChild.Start("rawpipe-client", name, mode, RingScenarios.Text(count), RingScenarios.Text(payload), warmup, RingScenarios.Text(InFlight));
        await Task.WhenAll(server.ReadyAsync(), client.ReadyAsync());
        client.Send("GO");
        ChildResult sent = await client.ResultAsync();
        ChildResult received = await server.ResultAsync();
        return mode != "oneway"
            ? new ScenarioResult
            {
                MessagesPerSecond = sent.Messages / sent.Seconds,
                Latency = sent.Latency,
                CpuCores = RingScenarios.Cores(("client", sent), ("server", received)),
                AllocatedBytesPerMessage = (double)sent.AllocatedBytes / sent.Messages,
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
