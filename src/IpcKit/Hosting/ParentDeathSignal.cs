using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace IpcKit.Hosting;

// Linux: a paired child dies with its parent even when it never calls PairedChild.Attach (a plain program such as
// sleep, a server written in another language). The kernel sends a process a signal of its choice when its parent
// dies once the process asked for it with prctl(PR_SET_PDEATHSIG); .NET forks and execs in native code with no hook
// in between, so the child is started through setpriv(1) from util-linux, which makes that call and then execs:
//
//   setpriv --pdeathsig KILL -- /bin/sh -c '[ "$PPID" = "$0" ] || exit 3; exec "$@"' PARENT-PID PROGRAM ARGS...
//
// Two races, two answers:
// - The parent can die between the fork and setpriv's prctl. No signal comes then: the parent was already gone when
//   the child asked. The shell starts after the prctl and compares its parent ($PPID, read at its start) with the pid
//   that started it; a child already re-parented exits with 3 (IpcExitCode.PeerGone) instead of running the program.
// - The "parent" of PR_SET_PDEATHSIG is the thread that forked, not the process: a child started from a thread-pool
//   thread would be killed when the pool retires that idle thread. Every such start runs on one dedicated thread that
//   lives as long as the process.
//
// The setting survives the execs of setpriv, sh and the program; the kernel clears it for a set-user-ID or
// file-capability program, which is then not covered, and it never reaches the program's own children. A child that
// calls PairedChild.Attach clears it (ClearInChild) and follows its own PairedChildOptions instead: it watches the
// control pipe, gets a grace period and an exit code of its choice, or stays alive if it chose so.
// Without setpriv (it is part of util-linux, present on Debian, Ubuntu, Fedora and RHEL; Alpine has it in
// util-linux-misc) children are started directly, and only those that call Attach exit with the parent.
[SupportedOSPlatform("linux")]
internal static class ParentDeathSignal
{
    /// <summary>The exit code of a child whose parent died before the parent-death signal was armed.</summary>
    internal const int OrphanedExitCode = (int)IpcExitCode.PeerGone;

    private const string Script = "[ \"$PPID\" = \"$0\" ] || exit 3; exec \"$@\"";

    private static readonly Lazy<string?> s_setpriv = new(FindSetpriv);
    private static readonly BlockingCollection<(Process Process, TaskCompletionSource Started)> s_starts = [];
    private static readonly Lazy<Thread> s_startThread = new(StartThread);

    /// <summary>Whether children can be started with a parent-death signal (setpriv with --pdeathsig, and /bin/sh).</summary>
    internal static bool IsAvailable => s_setpriv.Value is not null;

    /// <summary>
    /// Rewrites <paramref name="start"/> to run its program under setpriv with SIGKILL as the parent-death signal, armed
    /// for <paramref name="parentId"/>. Returns false, leaving it unchanged, where setpriv is not available.
    /// </summary>
    /// <exception cref="Win32Exception">The program cannot be found, as <see cref="Process.Start()"/> reports it.</exception>
    internal static bool TryWrap(ProcessStartInfo start, int parentId)
    {
        if (s_setpriv.Value is not string setpriv)
        {
            return false;
        }

        string program = ResolveProgram(start.FileName);
        List<string> arguments = [.. start.ArgumentList];
        start.FileName = setpriv;
        start.ArgumentList.Clear();
        foreach (string argument in (string[])["--pdeathsig", "KILL", "--", "/bin/sh", "-c", Script, parentId.ToString(CultureInfo.InvariantCulture), program, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        return true;
    }

    /// <summary>Starts <paramref name="process"/> from the start thread, which never ends, and waits until it started.</summary>
    internal static void Start(Process process)
    {
        _ = s_startThread.Value;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        s_starts.Add((process, started));

        // Rethrows what Process.Start threw there (a Win32Exception for a program that cannot run), unwrapped.
        started.Task.GetAwaiter().GetResult();
    }

    /// <summary>In a child that speaks the pairing protocol: turns the parent-death signal off; the control pipe tells it instead.</summary>
    internal static void ClearInChild() =>
        _ = Interop.ProcessControl.Prctl(Interop.ProcessControl.SetParentDeathSignal, 0, 0, 0, 0);

    private static Thread StartThread()
    {
        var thread = new Thread(() =>
        {
            foreach ((Process process, TaskCompletionSource started) in s_starts.GetConsumingEnumerable())
            {
                try
                {
                    process.Start();
                    started.SetResult();
                }
                catch (Exception exception)
                {
                    started.SetException(exception);
                }
            }
        })
        {
            IsBackground = true,
            Name = "IpcKit paired process start",
        };
        thread.UnsafeStart();
        return thread;
    }

    /// <summary>The program as <see cref="Process.Start()"/> finds it on Unix: rooted, beside this process's executable, in the current folder, or on PATH.</summary>
    private static string ResolveProgram(string fileName)
    {
        if (Path.IsPathRooted(fileName))
        {
            return fileName;
        }

        if (fileName.Contains('/', StringComparison.Ordinal))
        {
            return Path.GetFullPath(fileName);
        }

        foreach (string? folder in (string?[])[Path.GetDirectoryName(Environment.ProcessPath), Directory.GetCurrentDirectory()])
        {
            if (folder is not null && File.Exists(Path.Combine(folder, fileName)))
            {
                return Path.Combine(folder, fileName);
            }
        }

        return FindOnPath(fileName) ?? throw new Win32Exception(2, "No such file or directory");
    }

    private static string? FindOnPath(string program)
    {
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, program);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>setpriv, if it is there, knows --pdeathsig (util-linux 2.33 and later), and /bin/sh exists.</summary>
    private static string? FindSetpriv()
    {
        string? setpriv = File.Exists("/usr/bin/setpriv") ? "/usr/bin/setpriv" : File.Exists("/bin/setpriv") ? "/bin/setpriv" : FindOnPath("setpriv");
        if (setpriv is null || !File.Exists("/bin/sh"))
        {
            return null;
        }

        try
        {
            var probe = new ProcessStartInfo(setpriv, "--help") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using Process process = Process.Start(probe)!;
            Task<string> errors = process.StandardError.ReadToEndAsync();
            string help = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            _ = errors.Result;
            return help.Contains("--pdeathsig", StringComparison.Ordinal) ? setpriv : null;
        }
        catch (Win32Exception)
        {
            return null;
        }
    }
}
