using System.Diagnostics;
using System.Text;

namespace IpcKit.Tests;

/// <summary>
/// A real child process for cross-process tests: started with string arguments only, its stdout lines collected
/// for the test to wait on (always with a deadline), its stderr and exit code surfaced in failure messages, and
/// killed with its whole tree on dispose.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly StringBuilder _error = new();
    private readonly Lock _gate = new();
    private bool _errorClosed;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cursor;
    private bool _outputClosed;
    private bool _disposed;

    private ChildProcess(string program, IEnumerable<string> arguments, IDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["IPCKIT_TEST_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        CommandLine = $"{Path.GetFileName(program)} {string.Join(' ', arguments)}";
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        _process.ErrorDataReceived += (_, e) => OnError(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code; only valid once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>What was started, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>Everything the child wrote to stderr so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_gate)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Every stdout line so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The child's stdin, for scenarios that take commands.</summary>
    public StreamWriter Input => _process.StandardInput;

    /// <summary>Starts a scenario of the test child program (tests/IpcKit.Tests.Child).</summary>
    public static ChildProcess Start(string scenario, params string[] arguments) =>
        StartDll("IpcKit.Tests.Child.dll", [scenario, .. arguments]);

    /// <summary>Starts the ipckit command line with these arguments.</summary>
    public static ChildProcess StartCli(params string[] arguments) => StartDll("IpcKit.Cli.dll", arguments);

    /// <summary>Starts a .NET program from the test's output folder through the dotnet host.</summary>
    public static ChildProcess StartDll(string dll, IEnumerable<string> arguments, IDictionary<string, string>? environment = null) =>
        new("dotnet", ["exec", Path.Combine(AppContext.BaseDirectory, dll), .. arguments], environment);

    /// <summary>Starts any program (a compiled C peer, a shell script).</summary>
    public static ChildProcess StartProgram(string program, IEnumerable<string> arguments, IDictionary<string, string>? environment = null) =>
        new(program, arguments, environment);

    /// <summary>Waits for the READY line a scenario prints once it is set up.</summary>
    public Task<string> ReadyAsync() => WaitForLineAsync("READY");

    /// <summary>Waits for the next stdout line (after those already matched) that starts with <paramref name="prefix"/>.</summary>
    public async Task<string> WaitForLineAsync(string prefix, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestTimeouts.Unexpected;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                for (int i = _cursor; i < _lines.Count; i++)
                {
                    if (_lines[i].StartsWith(prefix, StringComparison.Ordinal))
                    {
                        _cursor = i + 1;
                        return _lines[i];
                    }
                }

                if (_outputClosed)
                {
                    throw new InvalidOperationException(
                        $"The child exited without printing '{prefix}'. {Describe()}");
                }

                changed = _changed.Task;
            }

            TimeSpan left = limit - deadline.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                throw new TimeoutException($"The child did not print '{prefix}' within {limit}. {Describe()}");
            }
        }
    }

    /// <summary>
    /// Waits until stderr contains <paramref name="text"/>: a child's log lines come from the logger's own thread,
    /// so they may follow a stdout line written after them.
    /// </summary>
    public async Task WaitForErrorTextAsync(string text, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestTimeouts.Unexpected;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_error.ToString().Contains(text, StringComparison.Ordinal))
                {
                    return;
                }

                if (_errorClosed)
                {
                    throw new InvalidOperationException($"The child closed stderr without writing '{text}'. {Describe()}");
                }

                changed = _changed.Task;
            }

            TimeSpan left = limit - deadline.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                throw new TimeoutException($"The child did not write '{text}' to stderr within {limit}. {Describe()}");
            }
        }
    }

    /// <summary>Waits for the child to exit and returns its exit code; fails the test after the deadline.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestTimeouts.Unexpected;
        using var cancellation = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The child did not exit within {limit}. {Describe()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Waits for the exit and asserts the exit code, showing the child's output if it differs.</summary>
    public async Task AssertExitCodeAsync(int expected, TimeSpan? timeout = null)
    {
        int code = await WaitForExitAsync(timeout);
        Assert.True(code == expected, $"Expected exit code {expected}, got {code}. {Describe()}");
    }

    /// <summary>Kills the child (SIGKILL on Unix) and its whole tree, without any chance to clean up.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    /// <summary>
    /// Waits for the exit of a child this test killed and checks that the kill is what ended it (SIGKILL, exit code
    /// 128 + 9 as .NET reports a signal). A child that had exited on its own before the kill, such as a consumer that
    /// found a bad payload and exited 4, fails the test with its exit code and stderr instead of passing unseen.
    /// </summary>
    public async Task AssertKilledAsync(TimeSpan? timeout = null)
    {
        int code = await WaitForExitAsync(timeout);
        Assert.True(
            code == KilledExitCode || (OperatingSystem.IsWindows() && code == -1),
            $"Expected the child to end by the test's kill (exit code {KilledExitCode}); it exited with {code} on its own. {Describe()}");
    }

    /// <summary>The exit code .NET reports for a process killed with SIGKILL (128 + 9).</summary>
    public const int KilledExitCode = 137;

    /// <summary>
    /// Asks a child that reads commands to stop by closing its stdin, so it can clean up (a pipe server removes its
    /// socket), waits up to <paramref name="timeout"/> for it to exit, and kills it if it has not.
    /// </summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The child already closed its end.
            }

            using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cancellation.Token);
            }
            catch (OperationCanceledException)
            {
                // Dispose kills it.
            }
        }

        Dispose();
    }

    /// <summary>Asks the child to stop with SIGTERM (Unix), as a service manager would, and waits for its exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? timeout = null)
    {
        if (!OperatingSystem.IsWindows() && !_process.HasExited)
        {
            _ = Interop.Signals.Kill(_process.Id, Interop.Signals.SigTerm);
        }

        return await WaitForExitAsync(timeout);
    }

    /// <summary>Kills the child if it is still running; a second call does nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            Kill();
            _process.WaitForExit(TestTimeouts.Unexpected);
        }

        _process.Dispose();
    }

    /// <summary>The command, exit state, stdout and stderr, for failure messages.</summary>
    public string Describe()
    {
        string exit = _process.HasExited ? $"exit code {_process.ExitCode}" : "still running";
        return $"[{CommandLine}: {exit}]\nstdout:\n{string.Join('\n', Lines)}\nstderr:\n{StandardError}";
    }

    private void OnOutput(string? line)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (line is null)
            {
                _outputClosed = true;
            }
            else
            {
                _lines.Add(line);
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }

    private void OnError(string? line)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (line is null)
            {
                _errorClosed = true;
            }
            else
            {
                _error.AppendLine(line);
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }
}
