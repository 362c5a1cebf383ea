namespace IpcKit.Tests.Cli;

/// <summary>
/// Long runs of ipckit show progress on stderr when it is a terminal, and never when stderr goes to a file or a pipe
/// (a script's capture stays clean). The terminal is a real pseudo-terminal from script(1).
/// </summary>
public sealed class CliProgressTests
{
    private static readonly string s_cli = Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll");

    [SkippableFact]
    public async Task Pipe_send_shows_progress_on_a_terminal_only_and_erases_it()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "script(1) of util-linux provides the terminal.");
        Requires.Program("script", "a pseudo-terminal for stderr (util-linux)");
        string name = UniqueName.Next("progress");
        using var folder = new TempDirectory();
        using ChildProcess server = ChildProcess.StartCli("pipe", "serve", name);
        try
        {
            await server.WaitForLineAsync("listening ");
            string count = "200000";

            // stdout to a file, stderr on the terminal, which script copies into the typescript file.
            string summary = folder.File("summary");
            string typescript = folder.File("typescript");
            using (ChildProcess terminal = ChildProcess.StartProgram(
                "script", ["-q", "-e", "-c", $"dotnet exec '{s_cli}' pipe send {name} --count {count} --size 8 > '{summary}'", typescript]))
            {
                await terminal.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
            }

            string screen = File.ReadAllText(typescript);
            Assert.Contains($"sent 0 / 200,000 (0%)", screen, StringComparison.Ordinal);
            string[] updates = screen.Split('\r');
            Assert.Matches(@"^\s+$", updates[^2]);
            Assert.StartsWith($"sent: count={count} ", File.ReadAllText(summary), StringComparison.Ordinal);

            // The same run with stderr captured: the summary and nothing else.
            using ChildProcess captured = ChildProcess.StartCli("pipe", "send", name, "--count", count, "--size", "8");
            await captured.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
            Assert.Equal("", captured.StandardError);
            Assert.StartsWith($"sent: count={count} ", Assert.Single(captured.Lines), StringComparison.Ordinal);
        }
        finally
        {
            await server.TerminateAsync();
        }
    }
}
