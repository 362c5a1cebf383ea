using System.Text.Json;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// Many-to-one and broadcast rings through the gateway, over REST and WebSockets (Node.js clients, curl), with ring
/// peers in child processes: the gateway is one producer among others on a many-to-one ring, and on a broadcast ring
/// every WebSocket client is a subscriber of its own.
/// </summary>
public sealed class GatewayRingKindsTests : GatewayTestBase
{
    [SkippableFact]
    public async Task A_many_to_one_ring_takes_the_gateways_messages_beside_a_producer_process()
    {
        string ring = CreateRing(new RingOptions { Kind = RingKind.ManyToOne, Capacity = 64 * 1024, MaxProducers = 4 });
        ChildProcess producer = await StartChildAsync("gateway-ring-write", ring);

        // REST: the gateway takes a producer slot of its own while the child holds another (a one-to-one ring would be 409).
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"Toy","sequence":1,"name":"rest"}"""));
        await CommandAsync(producer, "toy 2 child");
        CurlResponse read = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(200, read);
        Assert.Equal([(1, "rest"), (2, "child")], Toys(read.Json.GetProperty("messages")));
        RingInfo info = RingBuffer.Inspect(ring);
        Assert.Equal(2, info.Slots.Count(slot => slot.Alive && slot.Peer.State == RingPeerState.Attached));
        Assert.True(info.ReaderAlive);

        // WebSockets: one subscriber gets what the producer process, a REST client and a sending client produce, in turn.
        ChildProcess subscriber = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token));
        ChildProcess sender = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws?subscribe=false"), Token));
        await CommandAsync(producer, "toy 3 child");
        Assert.Equal((3, "child"), Toy(await NextFrameAsync(subscriber)));
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"Toy","sequence":4,"name":"rest"}"""));
        Assert.Equal((4, "rest"), Toy(await NextFrameAsync(subscriber)));
        await SendAsync(sender, """{"type":"Toy","sequence":5,"name":"ws"}""");
        Assert.Equal((5, "ws"), Toy(await NextFrameAsync(subscriber)));

        // The ring has one reader: the gateway's, shared by its subscribers; a GET would take their messages.
        AssertStatus(409, await GetAsync($"/rings/{ring}/messages"));
    }

    [SkippableFact]
    public async Task Each_websocket_client_of_a_broadcast_ring_is_a_subscriber_of_its_own()
    {
        string ring = CreateRing(new RingOptions { Kind = RingKind.Broadcast, Capacity = 64 * 1024, MaxSubscribers = 4 });
        ChildProcess child = await StartChildAsync("gateway-ring-read", ring, "3");
        ChildProcess first = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token));
        ChildProcess second = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token));

        // A subscription is attached before the upgrade is accepted: three subscriber slots are held now.
        Assert.Equal(3, LiveSubscribers(ring));

        // A GET reads through a subscription of the gateway's own (from its first GET), not the clients'.
        CurlResponse empty = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(200, empty);
        Assert.Equal(0, empty.Json.GetProperty("count").GetInt32());
        Assert.Equal(4, LiveSubscribers(ring));

        for (int sequence = 1; sequence <= 2; sequence++)
        {
            AssertStatus(202, await PostAsync($"/rings/{ring}/messages", $$"""{"type":"Toy","sequence":{{sequence}},"name":"rest"}"""));
            Assert.Equal((sequence, "rest"), Toy(await NextFrameAsync(first)));
            Assert.Equal((sequence, "rest"), Toy(await NextFrameAsync(second)));
            Assert.Equal($"TOY {sequence} rest  0001-01-01T00:00:00.0000000Z", await child.WaitForLineAsync("TOY"));
        }

        CurlResponse read = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(200, read);
        Assert.Equal([(1, "rest"), (2, "rest")], Toys(read.Json.GetProperty("messages")));

        // All slots are taken: one more client is refused before the upgrade; a client that leaves frees its slot.
        ChildProcess refused = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws"), Token, waitForOpen: false));
        Assert.Equal("ERROR Unexpected server response: 409", await refused.WaitForLineAsync("ERROR"));
        await first.Input.WriteLineAsync("CLOSE");
        await first.Input.FlushAsync();
        Assert.StartsWith("CLOSE 1000", await first.WaitForLineAsync("CLOSE"), StringComparison.Ordinal);
        await WaitForLiveSubscribersAsync(ring, 3);

        // A subscriber from the oldest message gets what is still in the ring, then goes on with the others.
        ChildProcess late = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws?start=oldest"), Token));
        Assert.Equal((1, "rest"), Toy(await NextFrameAsync(late)));
        Assert.Equal((2, "rest"), Toy(await NextFrameAsync(late)));
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"Toy","sequence":3,"name":"rest"}"""));
        Assert.Equal((3, "rest"), Toy(await NextFrameAsync(late)));
        Assert.Equal((3, "rest"), Toy(await NextFrameAsync(second)));
        await child.AssertExitCodeAsync(0);

        // start is for broadcast rings: elsewhere a reader resumes where the last one stopped.
        string oneToOne = CreateRing();
        ChildProcess wrong = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{oneToOne}/ws?start=oldest"), Token, waitForOpen: false));
        Assert.Equal("ERROR Unexpected server response: 400", await wrong.WaitForLineAsync("ERROR"));
    }

    [SkippableFact]
    public async Task A_lapped_subscriber_of_a_lossy_broadcast_ring_tells_its_client_how_many_it_lost()
    {
        const int Count = 20_000;
        string ring = CreateRing(new RingOptions { Kind = RingKind.Broadcast, Capacity = 4096, Lossy = true, MaxSubscribers = 2 });
        ChildProcess client = Own(await GatewayClients.WebSocketAsync(Ws($"/rings/{ring}/ws?overflow=skip"), Token, quiet: true));
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);

        // A lossy writer never waits: it laps the gateway's subscriber, which reports every gap before the messages after it.
        await writer.Input.WriteLineAsync($"toys 1 {Count} 100");
        await writer.Input.FlushAsync();
        Assert.Equal($"WROTE {Count}", await writer.WaitForLineAsync("WROTE"));
        await client.Input.WriteLineAsync($"WAITFOR {Count}");
        await client.Input.FlushAsync();
        Assert.Equal($"REACHED {Count}", await client.WaitForLineAsync("REACHED"));
        await client.Input.WriteLineAsync("STATS");
        await client.Input.FlushAsync();
        string stats = await client.WaitForLineAsync("STATS");
        Assert.Contains("ordered=true", stats, StringComparison.Ordinal);
        Assert.Contains($"last={Count}", stats, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_get_subscription_its_writer_dropped_is_answered_409_once_and_then_subscribes_again()
    {
        string ring = CreateRing(new RingOptions { Kind = RingKind.Broadcast, Capacity = 4096, MaxSubscribers = 2 });
        AssertStatus(200, await GetAsync($"/rings/{ring}/messages"));
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);

        // The ring fills; its writer waits for the GET subscription nobody polls, drops it after its slow-subscriber timeout, and goes on.
        await writer.Input.WriteLineAsync("toys 1 100 100");
        await writer.Input.FlushAsync();
        Assert.Equal("WROTE 100", await writer.WaitForLineAsync("WROTE"));
        CurlResponse dropped = await GetAsync($"/rings/{ring}/messages?wait=1");
        AssertStatus(409, dropped);
        Assert.Equal("subscriber-dropped", dropped.ProblemCode());

        CurlResponse again = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(200, again);
        Assert.Equal(0, again.Json.GetProperty("count").GetInt32());
        await CommandAsync(writer, "toy 101 after");
        CurlResponse read = await GetAsync($"/rings/{ring}/messages?wait=30000");
        AssertStatus(200, read);
        Assert.Equal([(101, "after")], Toys(read.Json.GetProperty("messages")));
    }

    private static int LiveSubscribers(string ring) =>
        RingBuffer.Inspect(ring).Slots.Count(slot => slot.Alive && slot.Peer.State == RingPeerState.Attached);

    /// <summary>A client's slot is released by the gateway just after the close handshake the client has seen.</summary>
    private static async Task WaitForLiveSubscribersAsync(string ring, int expected)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (LiveSubscribers(ring) != expected)
        {
            await Task.Delay(10, deadline.Token);
        }
    }

    private static async Task CommandAsync(ChildProcess child, string command)
    {
        await child.Input.WriteLineAsync(command);
        await child.Input.FlushAsync();
        Assert.Equal("OK", await child.WaitForLineAsync("OK"));
    }

    private static async Task SendAsync(ChildProcess client, string json)
    {
        await client.Input.WriteLineAsync($"SEND {json}");
        await client.Input.FlushAsync();
    }

    private static async Task<JsonElement> NextFrameAsync(ChildProcess client) =>
        JsonDocument.Parse((await client.WaitForLineAsync("MESSAGE"))["MESSAGE ".Length..]).RootElement.Clone();

    private static (long Sequence, string Name) Toy(JsonElement message)
    {
        Assert.Equal("Toy", message.GetProperty("type").GetString());
        return (message.GetProperty("sequence").GetInt64(), message.GetProperty("name").GetString()!);
    }

    private static (long Sequence, string Name)[] Toys(JsonElement messages) => [.. messages.EnumerateArray().Select(Toy)];
}
