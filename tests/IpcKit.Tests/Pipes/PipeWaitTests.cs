using System.Runtime.Versioning;
using IpcKit.Contracts;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// Every wait of the pipe channel honours its timeout and its token, one test per wait: a request slot, room to send,
/// a server to connect to, a reconnection. (The answer itself and the peer's window: <see cref="PipeChannelConformanceTests"/>
/// and <see cref="PipeIsolationTests"/>.)
/// </summary>
public sealed class PipeWaitTests
{
    [Fact]
    public async Task A_request_beyond_the_servers_request_limit_waits_for_a_slot_within_its_timeout_and_token()
    {
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("slots"), "max-requests=1");
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        Task<TextMessage> held = client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "wait:slot" }, TestTimeouts.Unexpected).AsTask();

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => client.RequestRawAsync(new byte[] { 1 }, timeout: TestTimeouts.Expected).AsTask());
        Assert.Contains("request slot", timeout.Message, StringComparison.Ordinal);
        using var cancel = new CancellationTokenSource(TestTimeouts.Expected);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RequestRawAsync(new byte[] { 1 }, timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancel.Token).AsTask());

        // The waiting request is released by another connection's request, then the slot serves the next one.
        await using PipeClient other = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        await other.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "release:slot" }, TestTimeouts.Unexpected);
        Assert.Equal("released slot", (await held.WaitAsync(TestTimeouts.Unexpected)).Message);
        Assert.Equal(new byte[] { 2 }, (await client.RequestRawAsync(new byte[] { 2 }, timeout: TestTimeouts.Unexpected)).Body.ToArray());
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_sender_waits_for_room_while_the_peer_does_not_read_within_its_timeout_and_token()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        using var fake = FakePipeServer.Start("room");
        var options = new PipeClientOptions { SendBufferLimit = 64 * 1024, HeartbeatInterval = TimeSpan.FromSeconds(30), PeerTimeout = TimeSpan.FromSeconds(60) };
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, options, TestTimeouts.Unexpected);

        // A server that completes the handshake (granting a huge window) and then never reads its socket.
        using RawPipeClient stuck = await fake.AcceptAsync();
        Assert.Equal(RawPipeClient.Hello, (await stuck.ReadFrameAsync())!.Value.Kind);
        await stuck.SendAsync(RawPipeClient.HelloFrame(window: int.MaxValue));
        await using PipeClient client = await connecting.WaitAsync(TestTimeouts.Unexpected);

        byte[] body = new byte[60 * 1024];
        TimeoutException? full = null;
        for (int i = 0; i < 1000 && full is null; i++)
        {
            try
            {
                await client.SendRawAsync(body, timeout: TestTimeouts.Expected);
            }
            catch (TimeoutException exception)
            {
                full = exception;
            }
        }

        Assert.NotNull(full);
        Assert.Contains("SendBufferLimit", full.Message, StringComparison.Ordinal);
        using var cancel = new CancellationTokenSource(TestTimeouts.Expected);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SendRawAsync(body, timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancel.Token).AsTask());
        Assert.True(client.Connection.IsConnected);
    }

    [Fact]
    public async Task Connecting_without_a_server_ends_when_its_token_is_cancelled()
    {
        using var cancel = new CancellationTokenSource(TestTimeouts.Expected);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            PipeClient.ConnectAsync(UniqueName.Next("absent"), timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancel.Token));
    }

    [Fact]
    public async Task A_request_waiting_for_a_reconnection_ends_with_its_timeout_or_its_token()
    {
        string name = UniqueName.Next("gone");
        TestServer server = await TestServer.ChildAsync(name);
        await using (server)
        {
            var options = new PipeClientOptions { AutoReconnect = true, ReconnectTimeout = TestTimeouts.Unexpected };
            await using PipeClient client = await PipeClient.ConnectAsync(name, options, TestTimeouts.Unexpected);
            server.Kill();
            await WaitUntilAsync(() => !client.IsConnected);

            var timeout = await Assert.ThrowsAsync<TimeoutException>(() => client.RequestRawAsync(new byte[] { 1 }, timeout: TestTimeouts.Expected).AsTask());
            Assert.Contains("reconnect", timeout.Message, StringComparison.Ordinal);
            using var cancel = new CancellationTokenSource(TestTimeouts.Expected);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                client.SendRawAsync(new byte[] { 1 }, timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancel.Token).AsTask());
            Assert.False(client.Completion.IsCompleted, "the client gave up reconnecting");
        }

        // The killed server left its socket and lock file behind: a server that takes the name over removes them.
        await using var successor = new PipeServer(name);
        successor.Start();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (!condition())
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}
