using System.Diagnostics.Metrics;
using IpcKit.Diagnostics;
using IpcKit.Pipes;
using IpcKit.Tests.Child;

namespace IpcKit.Tests.Pipes;

/// <summary>Many clients in several processes at once, and the channel's metrics.</summary>
public sealed class PipeScaleTests
{
    [Fact]
    public async Task Sixty_four_clients_in_four_processes_get_every_answer_right()
    {
        const int Processes = 4;
        const int ConnectionsEach = 16;
        const int RequestsEach = 250;
        string name = UniqueName.Next("many");
        int opened = 0;
        await using var server = new PipeServer(name);
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionOpened += (_, _) => Interlocked.Increment(ref opened);
        server.Start();

        ChildProcess[] children = [.. Enumerable.Range(0, Processes).Select(_ =>
            ChildProcess.Start("pipe-clients", name, ConnectionsEach.ToString(System.Globalization.CultureInfo.InvariantCulture), RequestsEach.ToString(System.Globalization.CultureInfo.InvariantCulture)))];
        try
        {
            foreach (ChildProcess child in children)
            {
                Assert.Equal($"DONE {ConnectionsEach * RequestsEach}", await child.WaitForLineAsync("DONE", TimeSpan.FromMinutes(2)));
                await child.AssertExitCodeAsync(0);
            }
        }
        finally
        {
            foreach (ChildProcess child in children)
            {
                child.Dispose();
            }
        }

        Assert.Equal(Processes * ConnectionsEach, opened);
    }

    [Fact]
    public async Task Messages_bytes_requests_and_connections_are_measured()
    {
        long sent = 0;
        long bytes = 0;
        long requests = 0;
        long connections = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == IpcMeter.Name && instrument.Name.StartsWith("ipckit.pipe.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "ipckit.pipe.messages.sent":
                    Interlocked.Add(ref sent, value);
                    break;
                case "ipckit.pipe.bytes.sent":
                    Interlocked.Add(ref bytes, value);
                    break;
                case "ipckit.pipe.requests":
                    Interlocked.Add(ref requests, value);
                    break;
                case "ipckit.pipe.connections":
                    if (value > 0)
                    {
                        Interlocked.Add(ref connections, value);
                    }

                    break;
            }
        });
        listener.Start();

        string name = UniqueName.Next("metrics");
        await using (TestServer server = TestServer.InProcess(name))
        {
            await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
            for (int i = 0; i < 100; i++)
            {
                await client.SendRawAsync(new byte[10]);
            }

            await client.RequestRawAsync(new byte[10]);
        }

        // Other tests run in parallel and count too, hence "at least".
        Assert.True(Interlocked.Read(ref sent) >= 102, $"messages sent: {sent}");
        Assert.True(Interlocked.Read(ref bytes) >= 102 * 26, $"bytes sent: {bytes}");
        Assert.True(Interlocked.Read(ref requests) >= 1, $"requests: {requests}");
        Assert.True(Interlocked.Read(ref connections) >= 2, $"connections opened: {connections}");
    }
}
