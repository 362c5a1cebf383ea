using IpcKit.Benchmarks.Harness;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>The IpcKit pipe channel and the .NET alternatives (StreamJsonRpc, NetMQ).</summary>
internal static class PipeChannelScenarios
{
    internal static IEnumerable<Scenario> All() => [];
}
