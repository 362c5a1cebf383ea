using IpcKit.SharedMemory;
using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>
/// Removes what a demo killed with SIGKILL could not: its ring, semaphore and counter file, recognised by the
/// "demo-PID" prefix and a PID that no longer runs. A clean run leaves nothing behind in the first place.
/// </summary>
internal static class Leftovers
{
    public static void Reclaim()
    {
        string folder = Path.GetDirectoryName(IpcName.GetRingPath("x"))!;
        foreach (string path in Directory.EnumerateFiles(folder, IpcName.RingFilePrefix + DemoChannels.Prefix + "*"))
        {
            string name = Path.GetFileName(path)[IpcName.RingFilePrefix.Length..];
            if (OwnerIsGone(name) && RingBuffer.IsAbandoned(name))
            {
                RingBuffer.Delete(name);
                NamedSemaphore.Delete(name + "-light");
                File.Delete(Path.Combine(Path.GetTempPath(), $"ipckit-{name}.counter"));
            }
        }
    }

    private static bool OwnerIsGone(string name)
    {
        if (!int.TryParse(name.AsSpan(DemoChannels.Prefix.Length), out int pid))
        {
            return false;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
