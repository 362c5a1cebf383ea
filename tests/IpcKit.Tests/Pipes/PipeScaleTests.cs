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
    public async Task Messages_bytes_requests_drops_and_connections_are_measured_exactly()
    {
        // In a process of its own: the instruments are process-wide, and here other tests' traffic would count too.
        using ChildProcess child = ChildProcess.Start("pipe-metrics");
        await child.WaitForLineAsync("DONE");
        await child.AssertExitCodeAsync(0);
        Dictionary<string, long> totals = child.Lines
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length == 2 && fields[0] != "DONE")
            .ToDictionary(fields => fields[0], fields => long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));

        // 100 raw messages, 3 Toys nobody takes and a request from the client, the answer from the server.
        Assert.Equal(105, totals["ipckit.pipe.messages.sent"]);
        Assert.Equal(105, totals["ipckit.pipe.messages.received"]);
        Assert.Equal(3, totals["ipckit.pipe.messages.dropped"]);
        Assert.Equal(1, totals["ipckit.pipe.requests"]);
        Assert.Equal(2, totals["ipckit.pipe.connections.closed"]);
        Assert.Equal(0, totals["ipckit.pipe.connections"]);
        Assert.Equal(totals["STATS-BYTES"], totals["ipckit.pipe.bytes.sent"]);
        Assert.Equal(totals["ipckit.pipe.bytes.sent"], totals["ipckit.pipe.bytes.received"]);
        Assert.False(totals.ContainsKey("ipckit.pipe.failures"), "nothing failed");
    }
}
