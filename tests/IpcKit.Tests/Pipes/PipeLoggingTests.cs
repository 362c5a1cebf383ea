using IpcKit.Contracts;
using IpcKit.Pipes;
using Microsoft.Extensions.Logging;

namespace IpcKit.Tests.Pipes;

/// <summary>What the pipe channel logs through the LoggerFactory of its options, by event id (1000-1999).</summary>
public sealed class PipeLoggingTests
{
    [SkippableFact]
    public async Task Connections_failures_drops_peers_gone_and_reconnects_are_logged_with_their_event_ids()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        string name = UniqueName.Next("log");
        var serverLog = new RecordingLoggerFactory();
        var clientLog = new RecordingLoggerFactory();
        var options = new PipeServerOptions { LoggerFactory = serverLog };
        PipeServer server = new(name, options);
        server.HandleRequest<TextMessage, TextMessage>((_, _, _) => throw new InvalidOperationException("handler broke"));
        server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
        server.Start();
        await using PipeClient client = await PipeClient.ConnectAsync(
            name, new PipeClientOptions { LoggerFactory = clientLog, AutoReconnect = true }, TestTimeouts.Unexpected);

        await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<TextMessage, TextMessage>(new TextMessage(), TestTimeouts.Unexpected).AsTask());
        await client.SendAsync(new Toy { Name = "nobody takes me" });
        await client.SendAsync(new Toy { Name = "nor me" });
        await client.RequestRawAsync(new byte[] { 1 }, timeout: TestTimeouts.Unexpected);

        // A peer that breaks the protocol, and one that vanishes without a close frame.
        using (RawPipeClient garbage = await RawPipeClient.ConnectAsync(name))
        {
            await garbage.HandshakeAsync();
            await garbage.SendAsync(RawPipeClient.Frame(9, 0, 0, []));
            await garbage.ReadUntilClosedAsync();
        }

        using (RawPipeClient vanishing = await RawPipeClient.ConnectAsync(name))
        {
            await vanishing.HandshakeAsync();
        }

        // Seen as gone before the server stops (else the stop may close it first, as this process's close).
        Assert.Contains("PeerDied", (await serverLog.WaitForAsync(1004)).Message, StringComparison.Ordinal);

        // The server goes and another takes the name: the client reconnects.
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Reconnected += (_, _) => reconnected.TrySetResult();
        await server.DisposeAsync();
        await using var successor = new PipeServer(name);
        successor.Start();
        await reconnected.Task.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(name, (await serverLog.WaitForAsync(1000)).Message.Split('\'')[1]);
        await serverLog.WaitForAsync(1002);
        Assert.Equal(LogLevel.Error, (await serverLog.WaitForAsync(1010)).Level);
        Assert.IsType<InvalidOperationException>((await serverLog.WaitForAsync(1010)).Exception);
        Assert.Contains("Toy", (await serverLog.WaitForAsync(1011)).Message, StringComparison.Ordinal);
        Assert.Single(serverLog.Events, e => e.Id.Id == 1011);
        Assert.Contains("2 one-way messages", (await serverLog.WaitForAsync(1012)).Message, StringComparison.Ordinal);
        Assert.Contains("Unknown frame kind 9", (await serverLog.WaitForAsync(1005)).Message, StringComparison.Ordinal);
        await serverLog.WaitForAsync(1001);
        Assert.Contains("PeerClosed", (await clientLog.WaitForAsync(1020)).Message, StringComparison.Ordinal);
        await clientLog.WaitForAsync(1021);
        Assert.All(serverLog.Events.Concat(clientLog.Events), e => Assert.InRange(e.Id.Id, 1000, 1999));
    }
}
