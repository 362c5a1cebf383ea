namespace IpcKit.Tests.Child;

/// <summary>Every scenario a test can run in a child process, by name.</summary>
internal static partial class Scenarios
{
    internal static readonly Dictionary<string, Func<string[], Task<int>>> All = new(StringComparer.Ordinal)
    {
        ["sem-wait"] = SemaphoreScenarios.WaitAsync,
        ["sem-counter"] = SemaphoreScenarios.CounterAsync,
        ["sem-release"] = SemaphoreScenarios.ReleaseAsync,
    };

    /// <summary>Tells the parent the scenario is set up; the parent waits for this line with a deadline.</summary>
    internal static void Ready(string detail = "")
    {
        Console.Out.WriteLine(detail.Length == 0 ? "READY" : $"READY {detail}");
        Console.Out.Flush();
    }
}
