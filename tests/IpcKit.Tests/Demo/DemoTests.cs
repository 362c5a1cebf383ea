using System.Globalization;

namespace IpcKit.Tests.Demo;

/// <summary>The demo as a newcomer runs it (with smaller bursts): consumer and producer processes, every part.</summary>
public sealed class DemoTests
{
    private static readonly Dictionary<string, string> s_smallBursts = new()
    {
        ["IPCKIT_DEMO_BURST"] = "50000",
        ["IPCKIT_DEMO_PIPE_BURST"] = "5000",
    };

    [Fact]
    public async Task The_demo_runs_every_part_checks_the_hashes_and_cleans_up()
    {
        using ChildProcess demo = ChildProcess.StartDll("IpcKit.Demo.dll", [], s_smallBursts);
        await demo.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

        string output = string.Join('\n', demo.Lines);
        Assert.Contains("received toy #5 'robot'", output, StringComparison.Ordinal);
        Assert.Contains("[producer] producer", output, StringComparison.Ordinal);
        Assert.Contains("the counter is 6 after 6 turns: no update was lost", output, StringComparison.Ordinal);
        Assert.Contains("consumer", output, StringComparison.Ordinal);
        Assert.Contains("received 50,000 / 50,000", output, StringComparison.Ordinal);
        Assert.Equal(2, demo.Lines.Count(line => line.Contains(": match", StringComparison.Ordinal) && line.Contains("hash", StringComparison.Ordinal)));
        Assert.Contains("Everything that was sent arrived.", output, StringComparison.Ordinal);
        AssertNothingLeft(demo.Id);
    }

    [SkippableFact]
    public async Task A_demo_stopped_with_SIGTERM_stops_its_producer_and_removes_what_it_created()
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX signals.");
        var environment = new Dictionary<string, string>(s_smallBursts) { ["IPCKIT_DEMO_BURST"] = "2000000000" };
        using ChildProcess demo = ChildProcess.StartDll("IpcKit.Demo.dll", [], environment);
        string ready = await demo.WaitForLineAsync("  producer ");
        int producer = int.Parse(ready.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        await demo.WaitForLineAsync("4. A burst");

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(0, IpcKit.Interop.Signals.Kill(demo.Id, IpcKit.Interop.Signals.SigTerm));
        }

        await demo.AssertExitCodeAsync(5);
        Assert.Contains(demo.Lines, line => line.StartsWith("Interrupted", StringComparison.Ordinal));
        Assert.False(File.Exists($"/proc/{producer}/stat") && !File.ReadAllText($"/proc/{producer}/stat").Contains(") Z", StringComparison.Ordinal),
            $"The producer {producer} outlived the demo.");
        AssertNothingLeft(demo.Id);
    }

    private static void AssertNothingLeft(int consumer)
    {
        string id = $"demo-{consumer}";
        if (Directory.Exists("/dev/shm"))
        {
            Assert.Empty(Directory.GetFiles("/dev/shm", $"*{id}*"));
        }

        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"*{id}*"));
        Assert.False(File.Exists(IpcKit.Pipes.PipeServer.GetPath(id)), "The demo's pipe socket is still there.");
    }
}
