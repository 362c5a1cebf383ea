using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using IpcKit.Hosting;

namespace IpcKit.Tests.Hosting;

/// <summary>PairedProcess and PairedChild with real child processes (scenarios host-* of IpcKit.Tests.Child).</summary>
public sealed class PairedProcessTests
{
    private static readonly string s_childDll = Path.Combine(AppContext.BaseDirectory, "IpcKit.Tests.Child.dll");

    private readonly OutputLines _output = new();

    [Fact]
    public async Task Start_returns_once_the_child_is_ready_and_the_child_gets_its_channels_and_arguments()
    {
        string requests = UniqueName.Next("requests");
        string replies = UniqueName.Next("replies");
        PairedProcessOptions options = Scenario("host-echo", "0", "two words", "--flag");
        options.Channels["requests"] = requests;
        options.Channels["Replies_2"] = replies;

        await using PairedProcess child = await PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken());

        Assert.True(child.IsReady);
        Assert.False(child.HasExited);
        Assert.Null(child.ExitCode);
        Assert.Equal(requests, child.Channels["REQUESTS"]);
        Assert.Equal(child.Id, await _output.WaitForNumberAsync("PID"));
        Assert.Equal($"CHANNEL REPLIES_2={replies}", await _output.WaitForAsync("CHANNEL REPLIES_2="));
        Assert.Equal($"CHANNEL REQUESTS={requests}", await _output.WaitForAsync("CHANNEL REQUESTS="));
        await _output.WaitForAsync("ARG two words");
        await _output.WaitForAsync("ARG --flag");
        Assert.Equal(Environment.ProcessId, await _output.WaitForNumberAsync("PARENT"));
        Assert.Equal("MISSING-CHANNEL missing", await _output.WaitForAsync("MISSING-CHANNEL"));

        // Attach removed the pairing variables, so whatever the child starts is not mistaken for a paired child.
        Assert.Equal(0, await _output.WaitForNumberAsync("PAIRVARS"));
    }

    [Fact]
    public async Task A_child_that_never_signals_ready_fails_with_TimeoutException_at_the_deadline_and_is_killed()
    {
        var deadline = TimeSpan.FromSeconds(1);
        PairedProcessOptions options = Scenario("host-never-ready", readyTimeout: deadline);
        var clock = Stopwatch.StartNew();

        TimeoutException timeout = await Assert.ThrowsAsync<TimeoutException>(() => PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken()));

        // Not before the deadline; the upper bound only guards against waiting for something else entirely.
        Assert.InRange(clock.Elapsed, deadline - TimeSpan.FromMilliseconds(50), TestTimeouts.Unexpected);
        Assert.Contains("did not signal ready within", timeout.Message, StringComparison.Ordinal);

        // On a loaded machine the child may not have reached its first stderr line before the deadline; either way
        // the message quotes what was captured.
        string captured = (string)timeout.Data[PairedProcess.StandardErrorDataKey]!;
        Assert.Contains(captured.Length == 0 ? "It wrote nothing to stderr." : captured.TrimEnd(), timeout.Message, StringComparison.Ordinal);
        Match pid = Regex.Match(timeout.Message, @"\(pid (\d+)\)");
        Assert.True(pid.Success, timeout.Message);
        await AssertExitsAsync(int.Parse(pid.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(42, IpcCloseReason.PeerDied)]
    [InlineData(0, IpcCloseReason.PeerClosed)]
    public async Task A_child_that_exits_before_ready_fails_at_once_with_its_exit_code_and_stderr(int exitCode, IpcCloseReason reason)
    {
        // A deadline far beyond the test's own: only the exit can end the wait in time.
        PairedProcessOptions options = Scenario("host-crash", exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture), readyTimeout: TimeSpan.FromMinutes(10));

        IpcPeerGoneException gone = await Assert.ThrowsAsync<IpcPeerGoneException>(
            () => PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken()));

        Assert.Equal(reason, gone.Reason);
        Assert.Contains($"exited with code {exitCode} before it signalled ready", gone.Message, StringComparison.Ordinal);
        Assert.Contains("boom: the child failed before it was ready", gone.Message, StringComparison.Ordinal);
        Assert.Equal(exitCode, gone.Data[PairedProcess.ExitCodeDataKey]);
        Assert.Contains("starting up", (string)gone.Data[PairedProcess.StandardErrorDataKey]!, StringComparison.Ordinal);
        Assert.Equal(IpcExitCode.PeerGone, IpcExitCodes.FromException(gone));
    }

    [Fact]
    public async Task The_parent_sees_the_exit_code_and_stderr_after_the_child_exits()
    {
        await using PairedProcess child = await PairedProcess.StartAsync(Scenario("host-exit", "7", "3"), TestTimeouts.UnexpectedToken());

        Assert.Equal(7, await child.WaitForExitAsync(TestTimeouts.Unexpected, TestTimeouts.UnexpectedToken()));
        Assert.True(child.HasExited);
        Assert.Equal(7, child.ExitCode);
        Assert.Equal("err 1\nerr 2\nerr 3\n", child.StandardError);
        await _output.WaitForAsync("DONE");
    }

    [Fact]
    public async Task Captured_stderr_is_bounded_and_keeps_the_latest_lines()
    {
        PairedProcessOptions options = Scenario("host-exit", "0", "2000", standardErrorLimit: 1000);
        await using PairedProcess child = await PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken());
        await child.WaitForExitAsync(TestTimeouts.Unexpected);

        string captured = child.StandardError;
        string[] lines = captured.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("[", lines[0], StringComparison.Ordinal);
        Assert.Contains("earlier characters not shown", lines[0], StringComparison.Ordinal);
        Assert.True(captured.Length - lines[0].Length - 1 <= 1000, $"{captured.Length} characters kept.");
        Assert.Equal("err 2000", lines[^1]);
        Assert.DoesNotContain("err 1\n", captured, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForExitAsync_times_out_while_the_child_runs()
    {
        await using PairedProcess child = await PairedProcess.StartAsync(Scenario("host-echo"), TestTimeouts.UnexpectedToken());

        await Assert.ThrowsAsync<TimeoutException>(() => child.WaitForExitAsync(TestTimeouts.Expected));
        Assert.False(child.HasExited);
    }

    [Fact]
    public async Task Stop_asks_a_paired_child_to_stop_and_it_exits_by_itself()
    {
        PairedProcess child = await PairedProcess.StartAsync(Scenario("host-echo", "5", stopTimeout: TestTimeouts.Unexpected), TestTimeouts.UnexpectedToken());
        await using (child)
        {
            // A grace period as long as the test's deadline: had the child been killed, it would not print STOPPING.
            Assert.Equal(5, await child.StopAsync(cancellationToken: TestTimeouts.UnexpectedToken()));
            Assert.Contains("STOPPING", _output.Snapshot());
            Assert.Equal(5, await child.StopAsync());
        }

        Assert.Equal(5, child.ExitCode);
    }

    [SkippableFact]
    public async Task Dispose_kills_a_child_that_ignores_the_stop_request_together_with_its_grandchild()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Reads /proc to watch the grandchild.");
        PairedProcessOptions options = Scenario("host-tree", "ignore", stopTimeout: TimeSpan.FromMilliseconds(300));
        ProcessProbe grandchild;
        PairedProcess child = await PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken());
        await using (child)
        {
            grandchild = ProcessProbe.Of(await _output.WaitForNumberAsync("GRANDCHILD"));
        }

        try
        {
            Assert.True(child.HasExited);
            Assert.Equal(137, child.ExitCode); // 128 + SIGKILL: it did not stop by itself.
            Assert.True(await grandchild.WaitForExitAsync(TestTimeouts.Unexpected), $"The grandchild {grandchild.Pid} still runs.");
        }
        finally
        {
            grandchild.KillIfRunning();
        }
    }

    [SkippableFact]
    public async Task Stop_also_ends_a_grandchild_that_the_stopping_child_left_behind()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Reads /proc to watch the grandchild.");
        ProcessProbe grandchild;
        await using PairedProcess child = await PairedProcess.StartAsync(Scenario("host-tree", "obey", stopTimeout: TestTimeouts.Unexpected), TestTimeouts.UnexpectedToken());
        grandchild = ProcessProbe.Of(await _output.WaitForNumberAsync("GRANDCHILD"));
        try
        {
            Assert.Equal(0, await child.StopAsync());
            Assert.Contains("STOPPING", _output.Snapshot());
            Assert.True(await grandchild.WaitForExitAsync(TestTimeouts.Unexpected), $"The orphaned grandchild {grandchild.Pid} still runs.");
        }
        finally
        {
            grandchild.KillIfRunning();
        }
    }

    [SkippableFact]
    public async Task A_program_that_does_not_speak_the_protocol_is_stopped_with_SIGTERM()
    {
        Skip.If(OperatingSystem.IsWindows(), "SIGTERM is a Unix signal.");
        var options = new PairedProcessOptions
        {
            FileName = "bash",
            Arguments = { "-c", "trap 'echo TERM; exit 7' TERM; sleep 600 & echo STARTED; wait" },
            WaitForReady = false,
            StopTimeout = TestTimeouts.Unexpected,
            OnStandardOutputLine = _output.Add,
        };
        await using PairedProcess child = await PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken());
        await _output.WaitForAsync("STARTED");

        Assert.False(child.IsReady);
        Assert.Equal(7, await child.StopAsync());
        Assert.Contains("TERM", _output.Snapshot());
    }

    [SkippableFact]
    public async Task A_child_in_another_language_speaks_the_protocol_with_two_file_descriptors()
    {
        Skip.If(OperatingSystem.IsWindows(), "The child is a bash script; the handles are file descriptors on Unix.");

        // bash writes the ready line to the inherited descriptor, then waits for one byte on the control pipe.
        const string Script = """
            echo "channel=$IPCKIT_CHANNEL_JOBS parent=$IPCKIT_PAIR_PARENT_PID"
            echo "ipckit-ready 1" >&"$IPCKIT_PAIR_READY_HANDLE"
            if read -r -n 1 byte <&"$IPCKIT_PAIR_CONTROL_HANDLE"; then echo "GOT $byte"; exit 4; fi
            echo EOF; exit 5
            """;
        string jobs = UniqueName.Next("jobs");
        var options = new PairedProcessOptions
        {
            FileName = "bash",
            Arguments = { "-c", Script },
            Channels = { ["jobs"] = jobs },
            ReadyTimeout = TestTimeouts.Unexpected,
            StopTimeout = TestTimeouts.Unexpected,
            OnStandardOutputLine = _output.Add,
        };

        await using PairedProcess child = await PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken());

        Assert.True(child.IsReady);
        Assert.Equal($"channel={jobs} parent={Environment.ProcessId}", await _output.WaitForAsync("channel="));
        Assert.Equal(4, await child.StopAsync());
        Assert.Contains("GOT S", _output.Snapshot());
    }

    [SkippableFact]
    public async Task Anything_but_the_ready_line_on_the_ready_pipe_is_a_protocol_violation()
    {
        Skip.If(OperatingSystem.IsWindows(), "The child is a bash script.");
        var options = new PairedProcessOptions
        {
            FileName = "bash",
            Arguments = { "-c", "echo 'hello there' >&\"$IPCKIT_PAIR_READY_HANDLE\"; exec sleep 600" },
            ReadyTimeout = TestTimeouts.Unexpected,
        };

        IpcProtocolException violation = await Assert.ThrowsAsync<IpcProtocolException>(() => PairedProcess.StartAsync(options, TestTimeouts.UnexpectedToken()));

        Assert.Contains("'hello there'", violation.Message, StringComparison.Ordinal);
        Match pid = Regex.Match(violation.Message, @"\(pid (\d+)\)");
        await AssertExitsAsync(int.Parse(pid.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [SkippableFact]
    public async Task A_paired_child_exits_by_itself_when_its_parent_is_killed_with_SIGKILL()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Reads /proc to watch the orphaned child.");

        // The test process is the grandparent: host-parent pairs with its own host-echo child, then gets SIGKILL,
        // which gives it no chance to stop anything. Only the child's own watch can end the child.
        await AssertChildDiesWithKilledParentAsync();
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_plain_program_that_never_attaches_dies_when_its_parent_is_killed_with_SIGKILL()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The parent-death signal (PR_SET_PDEATHSIG) is Linux's.");
        Requires.Program("setpriv", "a paired child that never attaches is armed with a parent-death signal through setpriv (util-linux)");

        // sleep knows nothing of IpcKit: no pipe watch, only the signal its parent armed can end it.
        await AssertChildDiesWithKilledParentAsync("sleep", "300");
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_plain_program_outlives_the_thread_that_started_it()
    {
        // PR_SET_PDEATHSIG fires when the *thread* that forked the child ends; a start from a thread that then ends
        // (as pool threads do when idle) must not kill the child.
        Requires.Platform(OperatingSystem.IsLinux(), "The parent-death signal (PR_SET_PDEATHSIG) is Linux's.");
        Requires.Program("setpriv", "a paired child that never attaches is armed with a parent-death signal through setpriv (util-linux)");
        using var folder = new TempDirectory();
        string go = folder.File("go");
        var options = new PairedProcessOptions
        {
            FileName = "/bin/sh",
            Arguments = { "-c", "echo STARTED; while [ ! -e \"$1\" ]; do sleep 0.02; done; echo ALIVE", "sh", go },
            WaitForReady = false,
            OnStandardOutputLine = _output.Add,
        };

        PairedProcess? child = null;
        string? threadId = null;
        var starter = new Thread(() =>
        {
            threadId = Path.GetFileName(Directory.ResolveLinkTarget("/proc/thread-self", returnFinalTarget: false)!.FullName);
            child = PairedProcess.StartAsync(options).GetAwaiter().GetResult();
        });
        starter.Start();
        Assert.True(starter.Join(TestTimeouts.Unexpected));
        await using PairedProcess started = child!;
        await _output.WaitForAsync("STARTED");

        // Gone from the kernel, not only from .NET: the signal, had it been armed for this thread, has been sent.
        string task = $"/proc/self/task/{threadId}";
        var clock = Stopwatch.StartNew();
        while (Directory.Exists(task))
        {
            Assert.True(clock.Elapsed < TestTimeouts.Unexpected, $"Thread {threadId} did not end.");
            await Task.Delay(20);
        }

        File.WriteAllText(go, "");
        await _output.WaitForAsync("ALIVE");
        Assert.Equal(0, await started.WaitForExitAsync(TestTimeouts.Unexpected));
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_plain_program_whose_parent_died_before_the_signal_was_armed_does_not_run()
    {
        // The window between fork and prctl: the child compares its parent with the pid that started it once the
        // signal is armed. Here that pid is not its parent, as when the parent died in the window.
        Requires.Platform(OperatingSystem.IsLinux(), "The parent-death signal (PR_SET_PDEATHSIG) is Linux's.");
        Requires.Program("setpriv", "a paired child that never attaches is armed with a parent-death signal through setpriv (util-linux)");
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("echo RAN");
        start.RedirectStandardError = true;
        Assert.True(IpcKit.Hosting.ParentDeathSignal.TryWrap(start, parentId: 1), "setpriv is on PATH but was not found usable.");

        // From the start thread, as PairedProcess does: started from this test's thread, the signal would follow that
        // thread, which may end before the child does (a run under load saw exactly that: exit code 137).
        using var process = new Process { StartInfo = start };
        IpcKit.Hosting.ParentDeathSignal.Start(process);
        Task<string> errors = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync(TestTimeouts.UnexpectedToken());
        Assert.True(
            process.ExitCode == IpcKit.Hosting.ParentDeathSignal.OrphanedExitCode && output.Length == 0,
            $"{start.FileName} {string.Join(' ', start.ArgumentList)}: exit code {process.ExitCode}, stdout '{output}', stderr '{await errors}'");
    }

    [Fact]
    public async Task Cancelling_the_start_kills_the_child()
    {
        using var cancellation = new CancellationTokenSource(TestTimeouts.Unexpected);
        var options = new PairedProcessOptions
        {
            FileName = s_childDll,
            Arguments = { "host-never-ready" },
            ReadyTimeout = Timeout.InfiniteTimeSpan,
            OnStandardOutputLine = line =>
            {
                _output.Add(line);
                if (line.StartsWith("PID ", StringComparison.Ordinal))
                {
                    cancellation.Cancel();
                }
            },
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PairedProcess.StartAsync(options, cancellation.Token));
        await AssertExitsAsync(await _output.WaitForNumberAsync("PID"));
    }

    [Fact]
    public async Task Invalid_options_fail_before_anything_starts()
    {
        PairedProcessOptions badKey = Scenario("host-echo");
        badKey.Channels["has-dash"] = "ok";
        await Assert.ThrowsAsync<ArgumentException>(() => PairedProcess.StartAsync(badKey));

        PairedProcessOptions badName = Scenario("host-echo");
        badName.Channels["requests"] = "white space";
        await Assert.ThrowsAsync<ArgumentException>(() => PairedProcess.StartAsync(badName));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => PairedProcess.StartAsync(Scenario("host-echo", readyTimeout: TimeSpan.Zero)));
        await Assert.ThrowsAsync<FileNotFoundException>(
            () => PairedProcess.StartAsync(new PairedProcessOptions { FileName = Path.Combine(AppContext.BaseDirectory, "missing.dll") }));
        await Assert.ThrowsAsync<IpcException>(
            () => PairedProcess.StartAsync(new PairedProcessOptions { FileName = "ipckit-no-such-program-" + Guid.NewGuid().ToString("N") }));
    }

    [Fact]
    public void Attach_outside_a_paired_process_says_how_to_start_one()
    {
        Assert.False(PairedChild.IsPaired);
        InvalidOperationException error = Assert.Throws<InvalidOperationException>(PairedChild.Attach);
        Assert.Contains("PairedProcess", error.Message, StringComparison.Ordinal);
    }

    private PairedProcessOptions Scenario(
        string scenario,
        string? first = null,
        string? second = null,
        string? third = null,
        TimeSpan? readyTimeout = null,
        TimeSpan? stopTimeout = null,
        int standardErrorLimit = 64 * 1024)
    {
        var options = new PairedProcessOptions
        {
            FileName = s_childDll,
            Arguments = { scenario },
            ReadyTimeout = readyTimeout ?? TestTimeouts.Unexpected,
            StopTimeout = stopTimeout ?? TimeSpan.FromSeconds(5),
            StandardErrorLimit = standardErrorLimit,
            OnStandardOutputLine = _output.Add,
        };
        foreach (string? argument in new[] { first, second, third })
        {
            if (argument is not null)
            {
                options.Arguments.Add(argument);
            }
        }

        return options;
    }

    /// <summary>Runs host-parent (with a plain program, or its paired host-echo), SIGKILLs the parent alone, and waits for the child to end.</summary>
    private static async Task AssertChildDiesWithKilledParentAsync(params string[] plainProgram)
    {
        using ChildProcess parent = ChildProcess.Start("host-parent", plainProgram);
        string line = await parent.WaitForLineAsync("CHILD ");
        await parent.ReadyAsync();
        ProcessProbe orphan = ProcessProbe.Of(int.Parse(line["CHILD ".Length..], System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            // The parent alone: ChildProcess.Kill would end its whole tree, the child included.
            using (Process process = Process.GetProcessById(parent.Id))
            {
                process.Kill(entireProcessTree: false);
            }

            await parent.AssertKilledAsync();
            Assert.True(await orphan.WaitForExitAsync(TestTimeouts.Unexpected), $"The child {orphan.Pid} outlived its SIGKILLed parent. {parent.Describe()}");
        }
        finally
        {
            orphan.KillIfRunning();
        }
    }

    private static async Task AssertExitsAsync(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        while (IsRunning(pid))
        {
            Assert.True(clock.Elapsed < TestTimeouts.Unexpected, $"Process {pid} still runs.");
            await Task.Delay(20);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
