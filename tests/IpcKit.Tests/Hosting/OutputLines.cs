using System.Diagnostics;

namespace IpcKit.Tests.Hosting;

/// <summary>The stdout lines a paired child forwards to its parent's callback, with waits that have a deadline.</summary>
public sealed class OutputLines
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The callback to pass as PairedProcessOptions.OnStandardOutputLine.</summary>
    public void Add(string line)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _lines.Add(line);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (_gate)
        {
            return [.. _lines];
        }
    }

    /// <summary>The first line starting with <paramref name="prefix"/>, waiting for it up to the deadline.</summary>
    public async Task<string> WaitForAsync(string prefix, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TestTimeouts.Unexpected;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                string? found = _lines.FirstOrDefault(line => line.StartsWith(prefix, StringComparison.Ordinal));
                if (found is not null)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            TimeSpan left = limit - clock.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                throw new TimeoutException($"No line starting with '{prefix}' within {limit}; lines:\n{string.Join('\n', Snapshot())}");
            }
        }
    }

    /// <summary>The integer after "PREFIX " in the first such line.</summary>
    public async Task<int> WaitForNumberAsync(string prefix) =>
        int.Parse((await WaitForAsync(prefix + " "))[(prefix.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}
