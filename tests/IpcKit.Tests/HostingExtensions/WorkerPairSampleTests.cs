using System.Diagnostics;
using System.Text.RegularExpressions;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>
/// samples/WorkerPair as real processes: the parent host starts the child host as a paired process, they exchange
/// over a pipe and a ring with DI handlers, and the pair ends with both exit codes 0 (on its own after the fixed
/// exchange, or on SIGTERM to the parent), the child gone, and nothing left in /dev/shm or the socket folder.
/// </summary>
public sealed partial class WorkerPairSampleTests
{
    // Built by the test project's build (a project reference that copies nothing), run from its own output folder so it
    // reads its own appsettings.json.
    private static readonly string s_dll = Path.Combine(
        AppContext.BaseDirectory, "..", "..", "..", "..", "..", "samples", "WorkerPair", "bin",
        new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0", "WorkerPair.dll");

    [Fact]
    public async Task The_pair_exits_0_on_its_own_after_the_fixed_exchange()
    {
        (string pipe, string ring) = (UniqueName.Next("wpair"), UniqueName.Next("wpair"));
        using ChildProcess parent = Start(pipe, ring, stopWhenDone: true);
        int child = await ChildIdAsync(parent);
        await parent.AssertExitCodeAsync(0);
        AssertPairEnded(parent, child, pipe, ring);
    }

    [Fact]
    public async Task SIGTERM_to_the_parent_stops_the_pair_and_both_exit_0()
    {
        (string pipe, string ring) = (UniqueName.Next("wpair"), UniqueName.Next("wpair"));
        using ChildProcess parent = Start(pipe, ring, stopWhenDone: false);
        int child = await ChildIdAsync(parent);
        await parent.WaitForLineAsync("exchange complete: 3 rounds");
        Assert.Equal(0, await parent.TerminateAsync());
        AssertPairEnded(parent, child, pipe, ring);
    }

    private static ChildProcess Start(string pipe, string ring, bool stopWhenDone)
    {
        Assert.True(File.Exists(s_dll), $"The sample is not built at {s_dll}.");
        return ChildProcess.StartDll(Path.GetFullPath(s_dll), [$"--IpcKit:Pipes:calc:Name={pipe}", $"--IpcKit:Rings:events:Name={ring}", $"--Sample:StopWhenDone={stopWhenDone}"]);
    }

    private static async Task<int> ChildIdAsync(ChildProcess parent)
    {
        string started = await parent.WaitForLineAsync("info: IpcKit.Hosting[4050]");
        return int.Parse(ChildPid().Match(started).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void AssertPairEnded(ChildProcess parent, int child, string pipe, string ring)
    {
        // Three rounds over the pipe and the ring, answered by the parent's handlers.
        Assert.Equal(3, parent.Lines.Count(line => line.Contains("WorkerPair.RoundDoneHandler[1] Round ", StringComparison.Ordinal)));
        Assert.Contains(parent.Lines, line => line.Contains($"Paired process 'child' (pid {child}) stopped with exit code 0", StringComparison.Ordinal));
        Assert.Contains(parent.Lines, line => line.Contains("Pipe server 'calc' stopped: 3 requests and messages handled, 0 refused", StringComparison.Ordinal));
        Assert.False(IsRunning(child), $"The child {child} outlived its parent.");
        Assert.Empty(Directory.GetFiles("/dev/shm", $"*{ring}*"));
        Assert.False(File.Exists(IpcName.GetPipePath(pipe)), "The pipe's socket outlived its server.");
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using Process process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"\(pid (\d+)\)")]
    private static partial Regex ChildPid();
}
