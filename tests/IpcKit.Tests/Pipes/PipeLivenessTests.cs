using System.Diagnostics;
using System.Threading.Channels;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Tests.Child;

namespace IpcKit.Tests.Pipes;

/// <summary>Peers that die, freeze or come back: heartbeats, kill -9 on either side, reconnect, waiting for a server.</summary>
public sealed class PipeLivenessTests
{
    private static TextMessage Text(string message) => new() { Message = message };

    [Fact]
    public async Task Killing_the_server_fails_pending_requests_with_peer_gone_and_a_new_server_replaces_the_stale_socket()
    {
        string name = UniqueName.Next("kill");
        TestServer server = await TestServer.ChildAsync(name);
        await using (server)
        {
            await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
            Task<TextMessage> pending = client.RequestAsync<TextMessage, TextMessage>(Text("wait:forever"), Timeout.InfiniteTimeSpan).AsTask();
            await client.RequestRawAsync(new byte[] { 1 });

            server.Kill();

            // The request has no timeout: only noticing the dead peer can end it.
            var gone = await Assert.ThrowsAsync<IpcPeerGoneException>(() => pending.WaitAsync(TestTimeouts.Unexpected));
            Assert.Equal(IpcCloseReason.PeerDied, gone.Reason);
            Assert.Equal(IpcCloseReason.PeerDied, (await client.Completion.WaitAsync(TestTimeouts.Unexpected)).Reason);
            await Assert.ThrowsAsync<IpcPeerGoneException>(() => client.RequestRawAsync(new byte[] { 1 }).AsTask());
        }

        // The killed server left its socket and lock files; a new server takes the name over.
        Assert.True(File.Exists(IpcName.GetPipePath(name)), "kill -9 leaves the socket file behind");
        await using TestServer successor = TestServer.InProcess(name);
        await using PipeClient again = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
        Assert.Equal(new byte[] { 2 }, (await again.RequestRawAsync(new byte[] { 2 })).Body.ToArray());
    }

    [Fact]
    public async Task Killing_a_client_is_seen_by_the_server_and_cancels_its_handlers()
    {
        string name = UniqueName.Next("kill");
        var closed = Channel.CreateUnbounded<PipeConnection>();
        await using var server = new PipeServer(name);
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionClosed += (_, e) => closed.Writer.TryWrite(e.Connection);
        server.Start();
        using ChildProcess child = ChildProcess.Start("pipe-client-wait", name);
        await child.ReadyAsync();
        PipeConnection connection = Assert.Single(server.Connections);
        Assert.Equal(child.Id, connection.PeerProcessId);

        child.Kill();

        PipeConnection ended = await closed.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Unexpected);
        Assert.Same(connection, ended);
        Assert.Equal(IpcCloseReason.PeerDied, ended.CloseInfo!.Reason);
        Assert.True(ended.ClosedToken.IsCancellationRequested);
        Assert.Empty(server.Connections);
    }

    [SkippableFact]
    public async Task A_frozen_server_is_declared_unresponsive_after_the_peer_timeout()
    {
        Skip.If(OperatingSystem.IsWindows(), "SIGSTOP freezes a process on Unix only.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("frozen"));
        var options = new PipeClientOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(100), PeerTimeout = TimeSpan.FromMilliseconds(800) };
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, options, TestTimeouts.Unexpected);
        Task<TextMessage> pending = client.RequestAsync<TextMessage, TextMessage>(Text("wait:frozen"), Timeout.InfiniteTimeSpan).AsTask();

        // Started before the last answer, so whatever the server sends last arrives after it.
        var clock = Stopwatch.StartNew();
        await client.RequestRawAsync(new byte[] { 1 });

        // Frozen, not dead: the socket stays open, so only the missing heartbeats can tell.
        Signal("STOP", server.ProcessId);
        try
        {
            var gone = await Assert.ThrowsAsync<IpcPeerGoneException>(() => pending.WaitAsync(TestTimeouts.Unexpected));
            Assert.Equal(IpcCloseReason.PeerUnresponsive, gone.Reason);
            Assert.Equal(IpcCloseReason.PeerUnresponsive, (await client.Completion).Reason);

            // Not a speed check: it must not have come sooner than the timeout it reports.
            Assert.True(clock.ElapsedMilliseconds >= 790, $"declared unresponsive after {clock.ElapsedMilliseconds} ms");
        }
        finally
        {
            Signal("CONT", server.ProcessId);
        }
    }

    [Fact]
    public async Task A_client_with_auto_reconnect_finds_the_next_server_and_keeps_receiving()
    {
        string name = UniqueName.Next("reconnect");
        var options = new PipeClientOptions { AutoReconnect = true };
        TestServer first = await TestServer.ChildAsync(name);
        await using (first)
        {
            await using PipeClient client = await PipeClient.ConnectAsync(name, options, TestTimeouts.Unexpected);
            var reconnected = new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.Reconnected += (_, e) => reconnected.TrySetResult(e.Connection);
            int firstPid = client.Connection.PeerProcessId!.Value;
            Assert.Equal(first.ProcessId, firstPid);

            first.Kill();
            await using TestServer second = TestServer.InProcess(name);

            await Task.WhenAny(reconnected.Task, client.Completion).WaitAsync(TestTimeouts.Unexpected);
            Assert.False(client.Completion.IsCompleted, $"The client gave up: {(client.Completion.IsCompleted ? await client.Completion : null)}");
            PipeConnection next = await reconnected.Task;
            Assert.Equal(Environment.ProcessId, next.PeerProcessId);
            SumResponse answer = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [5, 6] });
            Assert.Equal(Environment.ProcessId, answer.ProcessId);

            // The client's one stream of received messages carries on over the new connection (read before asking:
            // messages nobody reads are dropped).
            await using IAsyncEnumerator<TextMessage> messages = client.ReceiveAllAsync<TextMessage>(TestTimeouts.UnexpectedToken()).GetAsyncEnumerator();
            ValueTask<bool> pushed = messages.MoveNextAsync();
            await client.RequestAsync<TextMessage, TextMessage>(Text("push:1"));
            Assert.True(await pushed);
            Assert.Equal("push 0", messages.Current.Message);
        }
    }

    [Fact]
    public async Task A_client_waits_for_a_server_that_starts_later()
    {
        string name = UniqueName.Next("later");
        Task<PipeClient> connecting = PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
        Assert.False(connecting.IsCompleted);

        await using TestServer server = await TestServer.ChildAsync(name);
        await using PipeClient client = await connecting.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(server.ProcessId, client.Connection.PeerProcessId);
    }

    [Fact]
    public async Task Connecting_without_a_server_times_out_naming_the_path()
    {
        string name = UniqueName.Next("absent");

        var error = await Assert.ThrowsAsync<TimeoutException>(() => PipeClient.ConnectAsync(name, timeout: TestTimeouts.Expected));

        Assert.Contains(IpcName.GetPipePath(name), error.Message, StringComparison.Ordinal);
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        Assert.True(kill.WaitForExit(TestTimeouts.Unexpected));
        Assert.Equal(0, kill.ExitCode);
    }
}
