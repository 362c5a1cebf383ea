using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

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
    private static readonly Dictionary<int, string[]> s_descendants = [];
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
        HashSet<int> ours = OurLiveProcesses();
        Dictionary<string, HashSet<int>> mapped = MappedFiles();
        Dictionary<string, long> listening = ListeningSockets();
        HashSet<long> ourSockets = SocketInodesOf(ours);
        HashSet<string> names = NamesOfThisRun();
        string shm = Path.GetDirectoryName(IpcName.GetRingPath("x"))!;
        string socketFolder = SocketFolder();
        var found = new List<string>();
        foreach (string entry in Candidates())
        {
            string name = Path.GetFileName(entry);
            string folder = Path.GetDirectoryName(entry)!;
            if (name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) || name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal))
            {
                // Ours only if a process of this run made it and is gone (a live one still uses it).
                if (!s_before.Contains(entry) && PidIn(name) is int pid && IsDescendant(pid) && !IsAlive(pid))
                {
                    found.Add($"{entry} (diagnostics file of process {pid}, started by this run, now dead)");
                }

                continue;
            }

            if (folder == shm || (folder == socketFolder && entry != socketFolder))
            {
                // Shared namespaces other programs use too: judged by owner. A name this run handed out or passed to a
                // process it started, or a ring this run created, is ours; in use by another program it is not a leak,
                // in use by this run's own processes at the end it is.
                if (!IsOurs(name, names))
                {
                    continue;
                }

                if (mapped.TryGetValue(entry, out HashSet<int>? users))
                {
                    if (users.Overlaps(ours))
                    {
                        found.Add($"{entry} (still open in process {string.Join(", ", users.Intersect(ours))} of this run)");
                    }

                    continue;
                }

                if (listening.TryGetValue(entry, out long inode) || (entry.EndsWith(".lock", StringComparison.Ordinal) && listening.TryGetValue(entry[..^".lock".Length] + ".sock", out inode)))
                {
                    if (ourSockets.Contains(inode))
                    {
                        found.Add($"{entry} (a server of this run still listens)");
                    }

                    continue;
                }

                found.Add(entry);
                continue;
            }

            // The temp folder (files and folders with ipckit in their name) and the socket folder itself: new since the
            // run started and not in use. A name with a pid in it ("ipckit-demo-PID.counter") is ours only if that
            // process was.
            if (s_before.Contains(entry) || mapped.ContainsKey(entry) || listening.ContainsKey(entry))
            {
                continue;
            }

            if (PidInDemoName(name) is int owner && !IsDescendant(owner))
            {
                continue;
            }

            // The folder's last user removes it when it leaves it empty, possibly just now.
            if (entry == socketFolder && (!Directory.Exists(entry) || HasEntries(entry)))
            {
                continue;
            }

            found.Add(Directory.Exists(entry) ? $"{entry} (folder)" : entry);
        }

        foreach (int pid in ours.Where(pid => pid != Environment.ProcessId))
        {
            found.Add($"process {pid} ({CommandLine(pid)}) started by this run is still running");
        }

        return found;
    }

    /// <summary>IpcKit entries in /dev/shm, the temp folder (three levels deep), the socket folder, and .NET diagnostics files.</summary>
    private static IEnumerable<string> Candidates()
    {
        string shm = Path.GetDirectoryName(IpcName.GetRingPath("x"))!;
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
        if (name.StartsWith(IpcName.RingFilePrefix, StringComparison.Ordinal))
        {
            return name[IpcName.RingFilePrefix.Length..];
        }

        return name.StartsWith("sem.ipckit.", StringComparison.Ordinal) && (name.EndsWith("~rd", StringComparison.Ordinal) || name.EndsWith("~rs", StringComparison.Ordinal))
            ? name["sem.ipckit.".Length..^3]
            : null;
    }

    /// <summary>
    /// Whether the ring's creator (the pid in its header, offset 40) is the test process or one it started. A ring
    /// whose file is gone or unreadable (only its semaphores are left) cannot say: its name has to.
    /// </summary>
    private static bool CreatedByThisRun(string ring)
    {
        try
        {
            using var file = new FileStream(IpcName.GetRingPath(ring), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            byte[] header = new byte[44];
            if (file.Read(header, 0, header.Length) < header.Length)
            {
                return false;
            }

            int creator = BitConverter.ToInt32(header, 40);
            return creator == Environment.ProcessId || IsDescendant(creator);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    private static string SocketFolder() => Path.GetDirectoryName(IpcName.GetPipePath("x"))!;

    /// <summary>The names this run handed out (<see cref="UniqueName"/>) and the arguments of the processes it started.</summary>
    private static HashSet<string> NamesOfThisRun()
    {
        var names = new HashSet<string>(UniqueName.Issued, StringComparer.Ordinal);
        lock (s_gate)
        {
            foreach ((int pid, string[] arguments) in s_descendants)
            {
                names.Add(pid.ToString(CultureInfo.InvariantCulture));
                names.UnionWith(arguments.Where(argument => argument.Length >= 4 && !argument.Contains('/', StringComparison.Ordinal)));
            }
        }

        return names;
    }

    /// <summary>
    /// Whether an entry of /dev/shm or the socket folder is this run's: its object name (a ring, a semaphore, a pipe)
    /// is, or starts with, a name of this run (followed by '-' or '.'), or ends with the pid of a process this run
    /// started ("demo-PID"), or it is a ring whose header names a creator of this run.
    /// </summary>
    private static bool IsOurs(string entry, HashSet<string> names)
    {
        string name = entry;
        foreach (string prefix in new[] { IpcName.RingFilePrefix, "sem.ipckit." })
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                name = name[prefix.Length..];
            }
        }

        foreach (string suffix in new[] { "~rd", "~rs", ".sock", ".lock" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                name = name[..^suffix.Length];
            }
        }

        if (names.Contains(name)
            || names.Any(known => name.StartsWith(known + "-", StringComparison.Ordinal) || name.StartsWith(known + ".", StringComparison.Ordinal))
            || (name.LastIndexOf('-') is int dash and >= 0 && names.Contains(name[(dash + 1)..])))
        {
            return true;
        }

        return RingOf(entry) is string ring && CreatedByThisRun(ring);
    }

    /// <summary>Files live processes have mapped (rings and named semaphores in use), with the processes.</summary>
    private static Dictionary<string, HashSet<int>> MappedFiles()
    {
        var mapped = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (string folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            try
            {
                foreach (string line in File.ReadLines(Path.Combine(folder, "maps")))
                {
                    int slash = line.IndexOf('/', StringComparison.Ordinal);
                    if (slash >= 0 && line.Contains("ipckit", StringComparison.OrdinalIgnoreCase))
                    {
                        string path = line[slash..].Replace(" (deleted)", "", StringComparison.Ordinal);
                        if (!mapped.TryGetValue(path, out HashSet<int>? users))
                        {
                            mapped[path] = users = [];
                        }

                        users.Add(pid);
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // A process that ended meanwhile.
            }
        }

        return mapped;
    }

    /// <summary>Unix socket paths some live process has bound (/proc/net/unix), with the socket's inode.</summary>
    private static Dictionary<string, long> ListeningSockets()
    {
        var paths = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines("/proc/net/unix").Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 8 && fields[^1].StartsWith('/') && long.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out long inode))
            {
                paths[fields[^1]] = inode;
            }
        }

        return paths;
    }

    /// <summary>The inodes of the sockets the given processes have open (/proc/PID/fd links "socket:[INODE]").</summary>
    private static HashSet<long> SocketInodesOf(IEnumerable<int> processes)
    {
        var inodes = new HashSet<long>();
        foreach (int pid in processes)
        {
            try
            {
                foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    string? target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                        && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out long inode))
                    {
                        inodes.Add(inode);
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
            }
        }

        return inodes;
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
                    if (parent == self || s_descendants.ContainsKey(parent))
                    {
                        s_descendants.TryAdd(pid, Arguments(pid));
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
            return s_descendants.ContainsKey(pid);
        }
    }

    /// <summary>Live processes this run started: they carry its marker, or are the test process's children, or were seen as its descendants.</summary>
    private static HashSet<int> OurLiveProcesses()
    {
        int self = Environment.ProcessId;
        var live = new HashSet<int> { self };
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
                live.Add(pid);
            }
        }

        return live;
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

    private static string[] Arguments(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return [];
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

    /// <summary>The pid in a demo object's name ("demo-PID", as in ipckit-demo-PID.counter), or null.</summary>
    private static int? PidInDemoName(string name)
    {
        int start = name.IndexOf("demo-", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        string digits = new([.. name[(start + 5)..].TakeWhile(char.IsAsciiDigit)]);
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
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

    private static bool HasEntries(string folder)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries(folder).Any();
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
    }
}
