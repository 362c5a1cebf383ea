using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using IpcKit.Pipes;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Finds what the test run left behind: IpcKit files in /dev/shm, IpcKit files, folders and sockets in the temp folder
/// and the pipe socket folder, .NET diagnostics files of processes the run started, and processes the run started
/// that still live. Only what this run can own counts, so the check also holds on a machine where other runs work at
/// the same time: entries that were there when the run started are not ours, and an entry a live process still maps
/// (/proc/PID/maps) or listens on (/proc/net/unix) belongs to that process.
/// </summary>
internal static class Leftovers
{
    private static readonly HashSet<string> s_before = [];
    private static readonly HashSet<int> s_descendants = [];
    private static readonly Lock s_gate = new();

    /// <summary>The environment variable every <see cref="ChildProcess"/> gets, and its own children inherit: this run's pid.</summary>
    private const string RunMarker = "IPCKIT_TEST_PARENT_PID";

    /// <summary>Takes the snapshot of what existed before the run, and starts watching which processes the run starts.</summary>
    [ModuleInitializer]
    internal static void Start()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        foreach (string entry in Candidates())
        {
            s_before.Add(entry);
        }

        // Descendants of the test process, sampled 10 times a second: their diagnostics files are ours even after they
        // die, and one that outlives the run is a leak even when it was re-parented.
        var watch = new Thread(() =>
        {
            while (true)
            {
                RecordDescendants();
                Thread.Sleep(100);
            }
        })
        { IsBackground = true, Name = "leftovers: descendant sampler" };
        watch.Start();
    }

    /// <summary>Every leftover of this run now, described for a failure message.</summary>
    internal static List<string> Find()
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        RecordDescendants();
        HashSet<string> mapped = MappedFiles();
        HashSet<string> listening = ListeningSockets();
        var found = new List<string>();
        foreach (string entry in Candidates().Where(entry => !s_before.Contains(entry)))
        {
            string name = Path.GetFileName(entry);
            if (mapped.Contains(entry) || listening.Contains(entry))
            {
                continue;
            }

            if (name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) || name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal))
            {
                // Ours only if a process of this run made it and is gone (a live one still uses it).
                if (PidIn(name) is int pid && IsDescendant(pid) && !IsAlive(pid))
                {
                    found.Add($"{entry} (diagnostics file of process {pid}, started by this run, now dead)");
                }

                continue;
            }

            if (RingOf(entry) is string ring && !CreatedByThisRun(ring))
            {
                // A ring (or one of its semaphores) that another program created: not this run's to judge.
                continue;
            }

            if (entry.EndsWith(".lock", StringComparison.Ordinal) && listening.Contains(entry[..^".lock".Length] + ".sock"))
            {
                continue;
            }

            if (Directory.Exists(entry) && entry == SocketFolder() && Directory.EnumerateFileSystemEntries(entry).Any())
            {
                // A socket folder in use; its entries are judged one by one.
                continue;
            }

            found.Add(Directory.Exists(entry) ? $"{entry} (folder)" : entry);
        }

        foreach (int pid in LiveProcessesOfThisRun())
        {
            found.Add($"process {pid} ({CommandLine(pid)}) started by this run is still running");
        }

        return found;
    }

    /// <summary>IpcKit entries in /dev/shm, the temp folder (three levels deep), the socket folder, and .NET diagnostics files.</summary>
    private static IEnumerable<string> Candidates()
    {
        string shm = Path.GetDirectoryName(RingBuffer.GetPath("x"))!;
        string temp = Path.GetFullPath(Path.GetTempPath()).TrimEnd('/');
        IEnumerable<string> shared = Enumerate(shm, 1).Where(entry => Path.GetFileName(entry).Contains("ipckit", StringComparison.OrdinalIgnoreCase));
        IEnumerable<string> files = Enumerate(temp, 3).Where(entry =>
        {
            string name = Path.GetFileName(entry);
            return name.Contains("ipckit", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal)
                || name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal);
        });
        string sockets = SocketFolder();
        IEnumerable<string> socketFiles = Directory.Exists(sockets) ? [sockets, .. Enumerate(sockets, 1)] : [];
        return shared.Concat(files).Concat(socketFiles).Distinct();
    }

    /// <summary>Entries up to <paramref name="depth"/> levels down; a folder that vanishes or cannot be read meanwhile is skipped, not fatal.</summary>
    private static List<string> Enumerate(string folder, int depth)
    {
        var entries = new List<string>();
        string[] here;
        try
        {
            here = Directory.GetFileSystemEntries(folder);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return entries;
        }

        foreach (string entry in here)
        {
            entries.Add(entry);
            if (depth > 1 && Directory.Exists(entry) && !new FileInfo(entry).Attributes.HasFlag(FileAttributes.ReparsePoint))
            {
                entries.AddRange(Enumerate(entry, depth - 1));
            }
        }

        return entries;
    }

    /// <summary>The ring an entry of /dev/shm belongs to (its file, or one of its two semaphores), or null.</summary>
    private static string? RingOf(string entry)
    {
        string name = Path.GetFileName(entry);
        if (name.StartsWith(RingBuffer.FilePrefix, StringComparison.Ordinal))
        {
            return name[RingBuffer.FilePrefix.Length..];
        }

        return name.StartsWith("sem.ipckit.", StringComparison.Ordinal) && (name.EndsWith("~rd", StringComparison.Ordinal) || name.EndsWith("~rs", StringComparison.Ordinal))
            ? name["sem.ipckit.".Length..^3]
            : null;
    }

    /// <summary>
    /// Whether the ring's creator (the pid in its header, offset 40) is the test process or one it started. A ring
    /// whose file is gone or unreadable (only its semaphores are left) cannot say, and counts as this run's.
    /// </summary>
    private static bool CreatedByThisRun(string ring)
    {
        try
        {
            using var file = new FileStream(RingBuffer.GetPath(ring), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            byte[] header = new byte[44];
            if (file.Read(header, 0, header.Length) < header.Length)
            {
                return true;
            }

            int creator = BitConverter.ToInt32(header, 40);
            return creator == Environment.ProcessId || IsDescendant(creator);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return true;
        }
    }

    private static string SocketFolder() => Path.GetDirectoryName(PipeServer.GetPath("x"))!;

    /// <summary>Files some live process has mapped: rings and named semaphores in use.</summary>
    private static HashSet<string> MappedFiles()
    {
        var mapped = new HashSet<string>(StringComparer.Ordinal);
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                foreach (string line in File.ReadLines(Path.Combine(folder, "maps")))
                {
                    int slash = line.IndexOf('/', StringComparison.Ordinal);
                    if (slash >= 0 && line.Contains("ipckit", StringComparison.OrdinalIgnoreCase))
                    {
                        mapped.Add(line[slash..].Replace(" (deleted)", "", StringComparison.Ordinal));
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Not a process, or one that ended meanwhile.
            }
        }

        return mapped;
    }

    /// <summary>Unix socket paths some live process has bound (/proc/net/unix).</summary>
    private static HashSet<string> ListeningSockets()
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines("/proc/net/unix").Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 8 && fields[^1].StartsWith('/'))
            {
                paths.Add(fields[^1]);
            }
        }

        return paths;
    }

    private static void RecordDescendants()
    {
        var parents = new Dictionary<int, int>();
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && ParentOf(pid) is int parent)
            {
                parents[pid] = parent;
            }
        }

        int self = Environment.ProcessId;
        lock (s_gate)
        {
            foreach (int pid in parents.Keys)
            {
                // Walk up; the chain is short, and bounded in case of a cycle through pid reuse.
                int current = pid;
                for (int hops = 0; hops < 32 && parents.TryGetValue(current, out int parent); hops++)
                {
                    if (parent == self || s_descendants.Contains(parent))
                    {
                        s_descendants.Add(pid);
                        break;
                    }

                    current = parent;
                }
            }
        }
    }

    private static bool IsDescendant(int pid)
    {
        lock (s_gate)
        {
            return s_descendants.Contains(pid);
        }
    }

    /// <summary>Live processes this run started: they carry its marker, or are the test process's children, or were seen as its descendants.</summary>
    private static IEnumerable<int> LiveProcessesOfThisRun()
    {
        int self = Environment.ProcessId;
        string marker = $"{RunMarker}={self}";
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == self)
            {
                continue;
            }

            bool ours = ParentOf(pid) == self || IsDescendant(pid);
            if (!ours)
            {
                try
                {
                    ours = File.ReadAllText(Path.Combine(folder, "environ")).Split('\0').Contains(marker);
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                }
            }

            if (ours && IsAlive(pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The parent pid from /proc/PID/stat (after the command name, which may contain spaces and parentheses).</summary>
    private static int? ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Alive and not a zombie waiting to be reaped.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    private static int? PidIn(string name)
    {
        // dotnet-diagnostic-PID-TICKS-socket, clr-debug-pipe-PID-in
        string[] parts = name.Split('-');
        int index = name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) ? 2 : 3;
        return parts.Length > index && int.TryParse(parts[index], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the leftovers to go (a killed child is reaped, a server unlinks its socket) and returns what stays.</summary>
    internal static async Task<List<string>> SettleAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            List<string> found = Find();
            if (found.Count == 0 || watch.Elapsed > timeout)
            {
                return found;
            }

            // Polling a condition with a deadline: a process ending or a file going away has no event to wait on.
            await Task.Delay(200);
        }
    }
}
