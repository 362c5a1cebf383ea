using System.Text.Json;

namespace IpcKit.Tests;

/// <summary>
/// A real nats-server for one test: on 127.0.0.1, on a port the server picks itself (-p -1, read back from its ports
/// file, so two tests never race for a port), with JetStream storing in a private temp folder. Disposing kills the
/// server and removes the folder. A test that needs one calls <see cref="Start"/>, which skips (fails under CI=true)
/// if nats-server is not installed.
/// </summary>
public sealed class NatsServer : IDisposable
{
    private readonly ChildProcess _process;
    private readonly TempDirectory _folder;

    private NatsServer(ChildProcess process, TempDirectory folder, string url)
    {
        _process = process;
        _folder = folder;
        Url = url;
    }

    /// <summary>The client URL, nats://127.0.0.1:PORT.</summary>
    public string Url { get; }

    public static async Task<NatsServer> Start()
    {
        Requires.Program("nats-server", "the NATS bridge is tested against a real server; .ci/run installs the Debian package nats-server");
        // Both are the server's to dispose once it is returned; disposed here if starting fails.
#pragma warning disable CA2000
        var folder = new TempDirectory();
        string ports = Directory.CreateDirectory(folder.File("ports")).FullName;
        ChildProcess? process = null;
        try
        {
            process = ChildProcess.StartProgram(
                "nats-server",
                ["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", folder.File("store"), "--ports_file_dir", ports]);
#pragma warning restore CA2000

            // The ports file appears once the server listens; polling it is waiting for an event with a deadline.
            using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
            while (true)
            {
                string? file = Directory.EnumerateFiles(ports, "*.ports").FirstOrDefault();
                if (file is not null && await TryReadUrl(file) is string url)
                {
                    return new NatsServer(process, folder, url);
                }

                if (deadline.IsCancellationRequested)
                {
                    throw new TimeoutException($"nats-server did not start within {TestTimeouts.Unexpected}: {process.Describe()}");
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }
        catch
        {
            process?.Dispose();
            folder.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        _folder.Dispose();
    }

    private static async Task<string?> TryReadUrl(string file)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(file));
            return document.RootElement.GetProperty("nats")[0].GetString();
        }
        catch (Exception exception) when (exception is IOException or JsonException or KeyNotFoundException or IndexOutOfRangeException)
        {
            // Not written completely yet.
            return null;
        }
    }
}
