using System.Diagnostics;

namespace IpcKit.Tests.Child;

/// <summary>A child started by a test exits when the test process dies, so a crashed test run leaves no orphans.</summary>
internal static class ParentWatch
{
    internal static void ExitWhenParentDies()
    {
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
