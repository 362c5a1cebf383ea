using System.Diagnostics;
using IpcKit.Hosting;

namespace IpcKit.Tests.Child;

/// <summary>A child started by a test exits when the test process dies, so a crashed test run leaves no orphans.</summary>
internal static class ParentWatch
{
    internal static void ExitWhenParentDies()
    {
        // A paired child watches its own parent through the pairing, which sees even a SIGKILL; it must not watch
        // the test process named below, which it inherited from a paired parent started by the test.
        if (PairedChild.IsPaired)
        {
            PairedChild.Attach();
            return;
        }

        string? parent = Environment.GetEnvironmentVariable("IPCKIT_TEST_PARENT_PID");
        if (parent is null || !int.TryParse(parent, out int pid))
        {
            return;
        }

        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            Environment.Exit(99);
            return;
        }

        var thread = new Thread(() =>
        {
            process.WaitForExit();
            Environment.Exit(99);
        })
        { IsBackground = true, Name = "parent watch" };
        thread.Start();
    }
}
