using System.Globalization;
using System.Runtime.Versioning;

namespace IpcKit.Hosting;

/// <summary>
/// A snapshot of a process's descendants from /proc, each identified by pid and start time so that a pid reused by
/// an unrelated process is never signalled. Process.Kill(entireProcessTree) only finds descendants while their
/// parent lives; this snapshot also reaches the ones a child orphaned when it exited.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class ProcessTree
{
    /// <summary>Every live descendant of <paramref name="rootPid"/> (not the root itself).</summary>
    internal static List<(int Pid, long StartTime)> GetDescendants(int rootPid)
    {
        var children = new Dictionary<int, List<(int Pid, long StartTime)>>();
        foreach (string directory in EnumerateProcessDirectories())
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && TryReadStat(pid, out int parent, out long startTime))
            {
                if (!children.TryGetValue(parent, out List<(int, long)>? list))
                {
                    children[parent] = list = [];
                }

                list.Add((pid, startTime));
            }
        }

        var result = new List<(int Pid, long StartTime)>();
        var pending = new Queue<int>();
        pending.Enqueue(rootPid);
        while (pending.Count > 0 && result.Count < 100_000)
        {
            if (children.TryGetValue(pending.Dequeue(), out List<(int Pid, long StartTime)>? list))
            {
                foreach ((int Pid, long StartTime) child in list)
                {
                    result.Add(child);
                    pending.Enqueue(child.Pid);
                }
            }
        }

        return result;
    }

    /// <summary>SIGKILLs each process of the snapshot that still runs with the same start time.</summary>
    internal static void KillSurvivors(IEnumerable<(int Pid, long StartTime)> snapshot)
    {
        foreach ((int pid, long startTime) in snapshot)
        {
            if (TryReadStat(pid, out _, out long now) && now == startTime)
            {
                Interop.Signals.Kill(pid, Interop.Signals.SigKill);
            }
        }
    }

    /// <summary>The parent pid and start time (clock ticks since boot) of a live, non-zombie process.</summary>
    internal static bool TryReadStat(int pid, out int parent, out long startTime)
    {
        parent = 0;
        startTime = 0;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        // "pid (comm) state ppid ... starttime ...": comm may hold spaces and ')', so parse after the last ')'.
        int close = stat.LastIndexOf(')');
        if (close < 0 || close + 2 >= stat.Length)
        {
            return false;
        }

        string[] fields = stat[(close + 2)..].Split(' ');

        // fields[0] is field 3 of proc(5) (state), fields[1] field 4 (ppid), fields[19] field 22 (starttime).
        if (fields.Length < 20 || fields[0] is "Z" or "X")
        {
            return false;
        }

        return int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out parent)
            && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out startTime);
    }

    private static string[] EnumerateProcessDirectories()
    {
        try
        {
            return Directory.GetDirectories("/proc");
        }
        catch (IOException)
        {
            return [];
        }
    }
}
