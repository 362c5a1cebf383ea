namespace IpcKit.Tests;

/// <summary>
/// What a test needs from the machine. Where it is missing the test is skipped with the reason, except under
/// CI=true: CI installs everything the suite needs, so there a missing tool is a failure, never a silent skip.
/// </summary>
internal static class Requires
{
    /// <summary>Whether this run is CI's (the CI environment variable is "true").</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips (or fails under CI) unless <paramref name="condition"/> holds.</summary>
    public static void That(bool condition, string reason)
    {
        if (condition)
        {
            return;
        }

        if (InCi)
        {
            Assert.Fail($"CI=true, and this test needs what CI is supposed to provide: {reason}");
        }

        Skip.If(true, reason);
    }

    /// <summary>Skips for a reason CI cannot change (another OS): never a failure.</summary>
    public static void Platform(bool condition, string reason) => Skip.IfNot(condition, reason);

    /// <summary>Whether <paramref name="program"/> is an executable file in a folder on PATH.</summary>
    public static bool IsOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(folder => folder.Length > 0 && File.Exists(Path.Combine(folder, program)));

    /// <summary>Skips (or fails under CI) unless <paramref name="program"/> is on PATH.</summary>
    public static void Program(string program, string why) =>
        That(IsOnPath(program), $"'{program}' is not on PATH ({why}).");
}
