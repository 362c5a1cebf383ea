
namespace IpcKit.Benchmarks.Harness;

/// <summary>
/// A unique pipe name for one run. Parties that end normally remove their own socket files; a run that failed (a child
/// killed by the harness) can leave them, so disposing removes whatever is left: the IpcKit channel's NAME.sock and
/// NAME.lock (and their folder once empty, as the channel's own server does), or a .NET named pipe's CoreFxPipe_NAME.
/// Dispose it after the children (declare it first).
/// </summary>
internal sealed class TemporaryPipeName : IDisposable
{
    public string Name { get; } = $"ipckit-bench-{Guid.NewGuid():N}"[..28];

    public void Dispose()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string socket = IpcName.GetPipePath(Name);
        TryDelete(socket);
        TryDelete(Path.ChangeExtension(socket, ".lock"));
        TryDelete(Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + Name));
        try
        {
            // Only succeeds when nobody else has a socket in the folder.
            Directory.Delete(Path.GetDirectoryName(socket)!);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
        }
    }
}
