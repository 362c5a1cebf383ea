using System.Globalization;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// How long the chaos and soak tests run. CI runs the short forms (the defaults); tools/chaos/run.sh and
/// tools/soak/run.sh run the same tests longer through these environment variables.
/// </summary>
internal static class ReliabilitySettings
{
    /// <summary>IPCKIT_CHAOS_SECONDS: how long each chaos test keeps killing (default 15 s; the three together stay under a minute).</summary>
    public static TimeSpan ChaosDuration => Seconds("IPCKIT_CHAOS_SECONDS", 15);

    /// <summary>IPCKIT_SOAK_SECONDS: how long the soak runs (default 60 s).</summary>
    public static TimeSpan SoakDuration => Seconds("IPCKIT_SOAK_SECONDS", 60);

    /// <summary>IPCKIT_CHAOS_SEED: the seed of the kill schedule, to replay a failure (default: random, printed).</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("IPCKIT_CHAOS_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed)
        ? seed
        : Random.Shared.Next();

    /// <summary>IPCKIT_RELIABILITY_REPORT: a folder the tests also write their reports to (the scripts set it).</summary>
    public static string? ReportFolder => Environment.GetEnvironmentVariable("IPCKIT_RELIABILITY_REPORT") is { Length: > 0 } folder ? folder : null;

    /// <summary>Writes <paramref name="text"/> to the test output and, when a report folder is set, to FILE there.</summary>
    public static void Report(ITestOutputHelper output, string file, string text)
    {
        output.WriteLine(text);
        if (ReportFolder is string folder)
        {
            Directory.CreateDirectory(folder);
            File.AppendAllText(Path.Combine(folder, file), text + Environment.NewLine);
        }
    }

    private static TimeSpan Seconds(string variable, int fallback) =>
        TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? seconds
            : fallback);
}

/// <summary>
/// The chaos and soak tests: they run alone (after every parallel test collection), because they load the machine on
/// purpose and measure resources.
/// </summary>
[CollectionDefinition(nameof(ReliabilityLoadCollection), DisableParallelization = true)]
public sealed class ReliabilityLoadCollection;
