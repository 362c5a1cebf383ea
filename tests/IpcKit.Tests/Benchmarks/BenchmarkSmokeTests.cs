using System.Text.Json;

namespace IpcKit.Tests.Benchmarks;

/// <summary>
/// Keeps the benchmark harness from rotting: `ipckit bench all --quick --json` must run every scenario without an
/// error and produce a well-formed report. It asserts no speed: speed is what the harness reports, not what a test checks.
/// </summary>
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task Quick_harness_run_measures_every_scenario_and_reports_json()
    {
        using ChildProcess bench = ChildProcess.StartCli("bench", "all", "--quick", "--json");
        await bench.AssertExitCodeAsync(0, TimeSpan.FromMinutes(4));

        using JsonDocument report = JsonDocument.Parse(bench.Lines[^1]);
        JsonElement root = report.RootElement;
        Assert.Contains("logical CPUs", root.GetProperty("machine").GetString(), StringComparison.Ordinal);
        JsonElement[] scenarios = [.. root.GetProperty("scenarios").EnumerateArray()];
        Assert.Contains(scenarios, s => s.GetProperty("group").GetString() == "ring");
        Assert.Contains(scenarios, s => s.GetProperty("group").GetString() == "sem");
        Assert.Contains(scenarios, s => s.GetProperty("baseline").GetString() == "pipe");
        foreach (JsonElement scenario in scenarios)
        {
            JsonElement median = scenario.GetProperty("median");
            Assert.True(median.GetProperty("errors").GetInt64() == 0, $"{scenario.GetProperty("name")}: {median}");
            bool measured = median.GetProperty("messagesPerSecond").ValueKind == JsonValueKind.Number
                || median.GetProperty("latency").ValueKind == JsonValueKind.Object
                || median.GetProperty("cpuCores").EnumerateObject().Any()
                || scenario.GetProperty("baseline").GetString() == "native";
            Assert.True(measured, $"{scenario.GetProperty("name")} measured nothing: {median}");
        }

        // Ratios are computed against the baseline measured in the same run.
        Assert.Contains(scenarios, s => s.GetProperty("vsRawPipe").ValueKind == JsonValueKind.Number && s.GetProperty("baseline").ValueKind == JsonValueKind.Null);

        // The pipe channel runs side by side with the alternatives, and its request rows are compared with StreamJsonRpc.
        string[] pipeNames = [.. scenarios.Where(s => s.GetProperty("group").GetString() == "pipe").Select(s => s.GetProperty("name").GetString()!)];
        Assert.Contains(pipeNames, name => name.StartsWith("IpcKit pipe channel", StringComparison.Ordinal));
        Assert.Contains(pipeNames, name => name.StartsWith("StreamJsonRpc", StringComparison.Ordinal));
        Assert.Contains(pipeNames, name => name.StartsWith("NetMQ", StringComparison.Ordinal));
        Assert.Contains(scenarios, s => s.GetProperty("kind").GetString() == "requests"
            && s.GetProperty("name").GetString()!.StartsWith("IpcKit pipe channel", StringComparison.Ordinal)
            && s.GetProperty("vsStreamJsonRpc").ValueKind == JsonValueKind.Number);
        Assert.Contains(scenarios, s => s.GetProperty("kind").GetString() == "clients");
    }
}
