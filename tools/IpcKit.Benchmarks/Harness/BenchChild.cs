using System.Diagnostics;

namespace IpcKit.Benchmarks.Harness;

/// <summary>
/// A measured party in its own process: this program started as "child ROLE ARGS". It prints READY once set up and
/// "RESULT {json}" at the end; every wait for it has a deadline and disposing kills it.
/// </summary>
internal sealed class BenchChild : IDisposable
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(3);
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<ChildResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _errors = [];

    /// <summary>The environment variable that tells a child which process to outlive no longer than.</summary>
    internal const string ParentVariable = "IPCKIT_BENCH_PARENT";

    private BenchChild(string fileName, IEnumerable<string> arguments, string role)
    {
        Role = role;
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[ParentVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_errors)
                {
                    _errors.Add(e.Data);
                }
            }
        };
        _process.Exited += (_, _) =>
        {
            // Exited can be raised before the last output line is processed; drain the output first.
            _process.WaitForExit();
            _result.TrySetException(new InvalidOperationException($"{Role} exited with code {SafeExitCode()} before reporting. {ErrorOutput}"));
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    internal string Role { get; }

    internal int Id => _process.Id;

    /// <summary>The child's last lines on stderr (where a child describes the errors it counted), joined by " | ".</summary>
    internal string ErrorOutput
    {
        get
        {
            lock (_errors)
            {
                return string.Join(" | ", _errors.TakeLast(10));
            }
        }
    }

    /// <summary>Starts this program in child mode with <paramref name="role"/> and its arguments.</summary>
    internal static BenchChild Start(string role, params string[] arguments) =>
        new("dotnet", ["exec", typeof(BenchChild).Assembly.Location, "child", role, .. arguments], role);

    /// <summary>Starts a native program (a C baseline) that follows the same READY / RESULT protocol.</summary>
    internal static BenchChild StartNative(string path, string role, params string[] arguments) => new(path, arguments, role);

    /// <summary>Waits for READY; returns what followed it on the line ("READY 5555": "5555"), for example an address the child bound.</summary>
    internal async Task<string> ReadyAsync()
    {
        Task done = await Task.WhenAny(_ready.Task, _result.Task, Task.Delay(s_deadline)).ConfigureAwait(false);
        if (done != _ready.Task)
        {
            await _result.Task.ConfigureAwait(false);
            throw new TimeoutException($"{Role} was not ready within {s_deadline}. {ErrorOutput}");
        }

        return await _ready.Task.ConfigureAwait(false);
    }

    internal async Task<ChildResult> ResultAsync()
    {
        Task done = await Task.WhenAny(_result.Task, Task.Delay(s_deadline)).ConfigureAwait(false);
        if (done != _result.Task)
        {
            throw new TimeoutException($"{Role} did not finish within {s_deadline}. {ErrorOutput}");
        }

        return await _result.Task.ConfigureAwait(false);
    }

    /// <summary>Writes a line to the child's stdin (a "go" signal for the roles that wait for one).</summary>
    internal void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line == "READY" || line.StartsWith("READY ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line.Length > 6 ? line[6..] : "");
        }
        else if (line.StartsWith(ChildResult.Prefix, StringComparison.Ordinal))
        {
            _result.TrySetResult(ChildResult.Parse(line));
        }
    }

    private string SafeExitCode()
    {
        try
        {
            return _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }
}
