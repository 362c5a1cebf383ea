using System.Text.Json;
using IpcKit.Gateway;

namespace IpcKit.Tests.Gateway;

/// <summary>WebSockets with a Node.js client (the 'ws' package) against rings and a pipe server in child processes.</summary>
public sealed class GatewayWebSocketTests : GatewayTestBase
{
    [SkippableFact]
    public async Task Ring_subscribers_each_receive_every_message_in_order_as_it_is_written()
    {
        string ring = CreateRing();
        ChildProcess first = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, auth: "header"));
        ChildProcess second = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, auth: "protocol"));
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);

        // Each message is awaited by both clients before the next is written: delivered live, not at the end.
        foreach ((string command, string expected) in new[]
        {
            ("toy 1 kite", """{"type":"Toy","sequence":1,"name":"kite","sender":"child","sentAtUtc":"1970-01-01T00:00:00Z"}"""),
            ("text hello there", """{"type":"TextMessage","message":"hello there","from":"child","to":"gateway"}"""),
            ("raw AQID", """{"type":"raw","base64":"AQID"}"""),
            ("other 77 AA==", """{"type":"unknown","typeId":77,"base64":"AA=="}"""),
        })
        {
            await writer.Input.WriteLineAsync(command);
            await writer.Input.FlushAsync();
            Assert.Equal($"MESSAGE {expected}", await first.WaitForLineAsync("MESSAGE"));
            Assert.Equal($"MESSAGE {expected}", await second.WaitForLineAsync("MESSAGE"));
        }

        // The gateway is the ring's reader while subscribers are there: a GET would take their messages.
        CurlResponse get = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(409, get);
        Assert.Equal("streamed", get.ProblemCode());
    }

    [SkippableFact]
    public async Task A_client_sends_json_frames_into_a_ring_and_gets_errors_back_as_frames()
    {
        string ring = CreateRing();
        ChildProcess reader = await StartChildAsync("gateway-ring-read", ring, "3");
        ChildProcess client = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws?subscribe=false"), Token, auth: "query"));

        await SendAsync(client, """{"type":"Toy","sequence":5,"name":"ball"}""");
        Assert.Equal("TOY 5 ball  0001-01-01T00:00:00.0000000Z", await reader.WaitForLineAsync("TOY"));

        // A bad frame is answered with an error frame; nothing reaches the ring and the connection stays open.
        await SendAsync(client, """{"type":"Toy","sequence":"six"}""");
        JsonElement error = await NextFrameAsync(client);
        Assert.Equal("ipckit.error", error.GetProperty("type").GetString());
        Assert.Equal(400, error.GetProperty("status").GetInt32());
        Assert.Equal("invalid-message", error.GetProperty("code").GetString());
        await SendAsync(client, "not json");
        Assert.Equal("malformed-json", (await NextFrameAsync(client)).GetProperty("code").GetString());

        await SendAsync(client, """[{"type":"TextMessage","message":"batch"},{"type":"raw","base64":"AQ=="}]""");
        Assert.Equal("TEXT batch||", await reader.WaitForLineAsync("TEXT"));
        Assert.Equal("RAW AQ==", await reader.WaitForLineAsync("RAW"));
        await reader.AssertExitCodeAsync(0);

        // Binary frames are not JSON: the client is closed with 1003.
        await client.Input.WriteLineAsync("SENDBINARY");
        await client.Input.FlushAsync();
        Assert.Equal("CLOSE 1003 send messages as JSON text frames", await client.WaitForLineAsync("CLOSE"));
    }

    [SkippableTheory]
    [InlineData("none", null, "ERROR Unexpected server response: 401")]
    [InlineData("header", "wrong", "ERROR Unexpected server response: 401")]
    [InlineData("protocol", "wrong", "ERROR Unexpected server response: 401")]
    [InlineData("query", "wrong", "ERROR Unexpected server response: 401")]
    public async Task A_websocket_without_the_right_token_is_refused(string auth, string? token, string expected)
    {
        string ring = CreateRing();
        ChildProcess client = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), token, auth, waitForOpen: false));
        Assert.Equal(expected, await client.WaitForLineAsync("ERROR"));
        Assert.Equal(RingPeerStateNone, IpcKit.SharedMemory.RingBuffer.Inspect(ring).Reader.State);
    }

    [Theory]
    [InlineData(64 * 1024 + 1, 0)]
    [InlineData(1UL << 40, 0)]
    [InlineData(30 * 1024, 40 * 1024)]
    public async Task A_frame_announcing_more_than_the_limit_is_closed_with_1009_before_its_payload_arrives(ulong announced, int sentBefore)
    {
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = TestContracts.Demo(), MaxBodyBytes = 64 * 1024, LoggerFactory = Log.Factory });
        string ring = CreateRing();
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        using RawWebSocket client = await RawWebSocket.ConnectAsync(Ws($"/rings/{ring}/ws?subscribe=false"), Token, deadline.Token);
        if (sentBefore > 0)
        {
            // A first fragment within the limit, sent whole: the continuation's header takes the message over.
            await client.SendHeaderAsync(opcode: 1, final: false, (ulong)sentBefore, new byte[sentBefore], deadline.Token);
        }

        // The header and 16 bytes of the payload; the rest never comes. The close must not wait for it.
        await client.SendHeaderAsync(opcode: sentBefore > 0 ? (byte)0 : (byte)1, final: true, announced, new byte[16], deadline.Token);
        (int status, string reason) = await client.ReadCloseAsync(deadline.Token);
        Assert.Equal(1009, status);
        Assert.Contains("at most 65536 bytes", reason, StringComparison.Ordinal);
        Assert.Contains($"announced a message of {announced + (ulong)sentBefore} bytes", Assert.Single(Log.Messages(5041)), StringComparison.Ordinal);
        Assert.Equal(0, IpcKit.SharedMemory.RingBuffer.Inspect(ring).WritePosition);
    }

    [SkippableFact]
    public async Task A_subscription_to_a_ring_with_another_reader_is_refused_before_the_upgrade()
    {
        string ring = CreateRing();
        await StartChildAsync("ring-attach", ring, "reader");
        ChildProcess client = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, waitForOpen: false));
        Assert.Equal("ERROR Unexpected server response: 409", await client.WaitForLineAsync("ERROR"));
    }

    [SkippableFact]
    public async Task Pipe_subscribers_receive_server_pushes_and_send_messages_to_the_server()
    {
        string pipe = UniqueName.Next("gwp");
        ChildProcess server = await StartPipeServerAsync(pipe);
        ChildProcess first = Own(await GatewayClients.WebSocketAsync(Ws($"/pipes/{pipe}/ws"), Token));
        ChildProcess second = Own(await GatewayClients.WebSocketAsync(Ws($"/pipes/{pipe}/ws"), Token, auth: "protocol"));

        await server.Input.WriteLineAsync("broadcast news");
        await server.Input.FlushAsync();
        Assert.Equal("BROADCAST 1", await server.WaitForLineAsync("BROADCAST"));
        string expected = """MESSAGE {"type":"TextMessage","message":"news","from":"server","to":""}""";
        Assert.Equal(expected, await first.WaitForLineAsync("MESSAGE"));
        Assert.Equal(expected, await second.WaitForLineAsync("MESSAGE"));

        await SendAsync(first, """{"type":"TextMessage","message":"from node","from":"ws"}""");
        Assert.Equal("MESSAGE TEXT from node|ws|", await server.WaitForLineAsync("MESSAGE"));

        // The server goes away: its subscribers are told why.
        await server.Input.WriteLineAsync("stop");
        await server.Input.FlushAsync();
        Assert.StartsWith("CLOSE 1011 pipe '", await first.WaitForLineAsync("CLOSE"));
        Assert.StartsWith("CLOSE 1011 pipe '", await second.WaitForLineAsync("CLOSE"));
    }

    [SkippableFact]
    public async Task Slow_clients_are_closed_or_skip_ahead_while_a_fast_client_gets_everything()
    {
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = TestContracts.Demo(), WebSocketQueueMessages = 128, WebSocketQueueBytes = 4 * 1024 * 1024, LoggerFactory = Log.Factory });
        string ring = CreateRing(capacity: 1 << 20);
        ChildProcess fast = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, quiet: true));
        ChildProcess closing = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, quiet: true));
        ChildProcess skipping = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws?overflow=skip"), Token, quiet: true));
        foreach (ChildProcess slow in new[] { closing, skipping })
        {
            await slow.Input.WriteLineAsync("PAUSE");
            await slow.Input.FlushAsync();
            await slow.WaitForLineAsync("PAUSED");
        }

        // Rounds of 64 Toys with 16 KiB names; the fast client reads each round before the next is written, so it is
        // never far behind, while the paused ones fall further back every round until they overflow. How many rounds
        // that takes depends on the kernel's socket buffers, so the test watches the gateway's counters.
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);
        long written = 0;
        for (int round = 0; Gateway.Statistics.SlowClientsClosed == 0 || Gateway.Statistics.MessagesSkipped == 0; round++)
        {
            Assert.True(round < 1000, "The slow clients never overflowed.");
            await writer.Input.WriteLineAsync($"toys {written + 1} 64 16384");
            await writer.Input.FlushAsync();
            written = long.Parse((await writer.WaitForLineAsync("WROTE")).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            await fast.Input.WriteLineAsync($"WAITFOR {written}");
            await fast.Input.FlushAsync();
            await fast.WaitForLineAsync("REACHED");
        }

        // The fast client got every message, in order, although the others stopped reading.
        Assert.Equal($"STATS count={written} ordered=true last={written} skipped=0 errors=0", await StatsAsync(fast));

        // The skipping client reads again: it is told how many it missed and ends with the newest message.
        await skipping.Input.WriteLineAsync("RESUME");
        await skipping.Input.WriteLineAsync($"WAITFOR {written}");
        await skipping.Input.FlushAsync();
        await skipping.WaitForLineAsync("REACHED");
        string skipped = await StatsAsync(skipping);
        Assert.Contains("ordered=true", skipped, StringComparison.Ordinal);
        Assert.DoesNotContain("skipped=0 ", skipped, StringComparison.Ordinal);

        // The closed client reads what was in its socket buffers, then finds the connection closed (1008 if the close
        // frame got through, else aborted: 1006).
        await closing.Input.WriteLineAsync("RESUME");
        await closing.Input.FlushAsync();
        string close = await closing.WaitForLineAsync("CLOSE");
        Assert.True(close.StartsWith("CLOSE 1008 slow consumer", StringComparison.Ordinal) || close == "CLOSE 1006 ", close);
        Assert.Equal(1, Gateway.Statistics.SlowClientsClosed);
        Assert.Contains("closed as a slow consumer", Assert.Single(Log.Messages(5040)), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Stopping_the_gateway_closes_its_clients_with_1001()
    {
        string ring = CreateRing();
        ChildProcess client = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token));
        await Gateway.StopAsync();
        Assert.Equal("CLOSE 1001 the gateway is stopping", await client.WaitForLineAsync("CLOSE"));
        Assert.False(IpcKit.SharedMemory.RingBuffer.Inspect(ring).ReaderAlive);
    }

    private const IpcKit.SharedMemory.RingPeerState RingPeerStateNone = IpcKit.SharedMemory.RingPeerState.None;

    private static async Task SendAsync(ChildProcess client, string json)
    {
        await client.Input.WriteLineAsync($"SEND {json}");
        await client.Input.FlushAsync();
    }

    private static async Task<JsonElement> NextFrameAsync(ChildProcess client) =>
        JsonDocument.Parse((await client.WaitForLineAsync("MESSAGE"))["MESSAGE ".Length..]).RootElement.Clone();

    private static async Task<string> StatsAsync(ChildProcess client)
    {
        await client.Input.WriteLineAsync("STATS");
        await client.Input.FlushAsync();
        return await client.WaitForLineAsync("STATS");
    }
}
