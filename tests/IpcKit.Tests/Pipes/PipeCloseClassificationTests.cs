using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// An orderly close is reported as one, even when the other side's write meets the closed socket before its receive
/// loop has read the close frame (a heartbeat sent at just that moment fails with "broken pipe").
/// </summary>
public sealed class PipeCloseClassificationTests
{
    [Fact]
    public async Task A_client_that_closes_in_an_orderly_way_is_never_reported_dead_by_a_server_that_pings_constantly()
    {
        const int Clients = 150;
        string name = UniqueName.Next("close");

        // A 2 ms heartbeat keeps the server writing pings, so many of them meet a client that has just closed.
        var options = new PipeServerOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(2), PeerTimeout = TimeSpan.FromSeconds(30) };
        var reasons = new System.Collections.Concurrent.ConcurrentBag<IpcCloseReason>();
        var allClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new PipeServer(name, options);
        server.ConnectionClosed += (_, e) =>
        {
            reasons.Add(e.Connection.CloseInfo!.Reason);
            if (reasons.Count == Clients)
            {
                allClosed.TrySetResult();
            }
        };
        server.HandleRequest<int, int>((value, _, _) => ValueTask.FromResult(value + 1));
        server.Start();

        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected * 2);
        for (int i = 0; i < Clients; i++)
        {
            await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected, cancellationToken: deadline.Token);
            Assert.Equal(i + 1, await client.RequestAsync<int, int>(i, TestTimeouts.Unexpected, deadline.Token));

            // Vary how long the connection idles (and how many pings arrive unread) before the close races the
            // server's next write: a spread of timings, not a synchronisation.
            await Task.Delay(i % 5, deadline.Token);
        }

        await allClosed.Task.WaitAsync(deadline.Token);

        Assert.All(reasons, reason => Assert.Equal(IpcCloseReason.PeerClosed, reason));
    }
}
