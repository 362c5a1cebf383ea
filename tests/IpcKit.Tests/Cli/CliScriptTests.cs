namespace IpcKit.Tests.Cli;

/// <summary>Runs the shell-level tests in tests/cli against the built ipckit command.</summary>
public sealed class CliScriptTests
{
    [SkippableTheory]
    [InlineData("sem.sh")]
    [InlineData("lock.sh")]
    [InlineData("ring.sh")]
    [InlineData("ring-kinds.sh")]
    [InlineData("pipe.sh")]
    public async Task Script_passes(string script)
    {
        Skip.If(OperatingSystem.IsWindows(), "The CLI scripts are bash scripts.");
        string cli = Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll");
        var environment = new Dictionary<string, string>
        {
            ["IPCKIT"] = $"dotnet exec {cli}",
            ["UNIQUE"] = Guid.NewGuid().ToString("N")[..12],
        };
        using ChildProcess run = ChildProcess.StartProgram("bash", [Path.Combine(AppContext.BaseDirectory, "cli", script)], environment);
        await run.AssertExitCodeAsync(0, TimeSpan.FromMinutes(3));
    }
}
