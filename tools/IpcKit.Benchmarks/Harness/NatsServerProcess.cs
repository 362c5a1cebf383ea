using System.Diagnostics;
using System.Text.Json;

namespace IpcKit.Benchmarks.Harness;

/// <summary>
/// A nats-server for one benchmark run: on 127.0.0.1, on a port it picks itself (read back from its ports file), no
/// JetStream, killed and its folder removed on dispose. Null from <see cref="TryStartAsync"/> if nats-server is not
/// installed (the bridge scenarios are then skipped, saying so).
/// </summary>
internal sealed class NatsServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _folder;

    private NatsServerProcess(Process process, string folder, string url)
    {
        _process = process;
        _folder = folder;
        Url = url;
    }

    internal const string Missing = "nats-server is not installed (Debian package nats-server)";

    public string Url { get; }

    public static async Task<NatsServerProcess?> TryStartAsync()
    {
        string? program = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(folder => Path.Combine(folder, "nats-server"))
            .FirstOrDefault(File.Exists);
        if (program is null)
        {
            return null;
        }

        string folder = Directory.CreateTempSubdirectory("ipckit-bench-nats-").FullName;
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in new[] { "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", folder })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        long deadline = Environment.TickCount64 + 30_000;
        while (Environment.TickCount64 < deadline && !process.HasExited)
        {
            string? file = Directory.EnumerateFiles(folder, "*.ports").FirstOrDefault();
            if (file is not null)
            {
                try
                {
                    using JsonDocument ports = JsonDocument.Parse(await File.ReadAllTextAsync(file).ConfigureAwait(false));
                    return new NatsServerProcess(process, folder, ports.RootElement.GetProperty("nats")[0].GetString()!);
                }
                catch (JsonException)
                {
                    // Not completely written yet.
                }
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        process.Kill();
        process.Dispose();
        Directory.Delete(folder, recursive: true);
        throw new TimeoutException("nats-server did not start within 30 s.");
    }

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        _process.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
