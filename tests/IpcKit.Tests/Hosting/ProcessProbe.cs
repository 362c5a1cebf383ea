using System.Diagnostics;
using System.Globalization;

namespace IpcKit.Tests.Hosting;

/// <summary>
/// Watches a process the test did not start itself (a grandchild), through /proc: identified by pid and start
/// time, so a reused pid is not mistaken for it, and a zombie counts as exited (its parent may be gone, and
/// whoever adopted it reaps it when it gets to it).
/// </summary>
internal sealed class ProcessProbe
{
    private readonly long _startTime;

    private ProcessProbe(int pid, long startTime)
    {
        Pid = pid;
        _startTime = startTime;
    }

    public int Pid { get; }

    public bool IsRunning => ReadStartTime(Pid) == _startTime;

    /// <summary>A probe for a process that runs now; fails the test if it does not.</summary>
    public static ProcessProbe Of(int pid)
    {
        long? startTime = ReadStartTime(pid);
        Assert.True(startTime is not null, $"Process {pid} is not running.");
        return new ProcessProbe(pid, startTime!.Value);
    }

    /// <summary>Polls until the process has exited; false if it still runs at the deadline.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (IsRunning)
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Cleanup for a test that failed: SIGKILL if it still runs.</summary>
    public void KillIfRunning()
    {
        if (IsRunning)
        {
            try
            {
                using Process process = Process.GetProcessById(Pid);
                process.Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    private static long? ReadStartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[0] is "Z" or "X" ? null : long.Parse(fields[19], CultureInfo.InvariantCulture);
    }
}
