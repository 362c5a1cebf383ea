using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// What every pipe channel setup must do, in the spirit of dotnet/runtime's StreamConformanceTests: the tests talk to
/// the test service through <see cref="StartServerAsync"/>, and each subclass decides where that server runs.
/// </summary>
public abstract class PipeChannelConformanceTests
{
    private static readonly TimeSpan Connect = TestTimeouts.Unexpected;

    /// <summary>Starts the test service on <paramref name="name"/> with the given largest accepted frame.</summary>
    protected abstract Task<TestServer> StartServerAsync(string name, int maxFrameSize = 16 * 1024 * 1024);

    /// <summary>The options the tests' clients use.</summary>
    protected virtual PipeClientOptions? ClientOptions => null;

    protected Task<PipeClient> ConnectAsync(string name) =>
        PipeClient.ConnectAsync(name, ClientOptions, Connect, TestTimeouts.UnexpectedToken());

    protected static Task<TextMessage> Ask(PipeClient client, string command, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        client.RequestAsync<TextMessage, TextMessage>(Text(command), timeout, cancellationToken).AsTask();

    protected static TextMessage Text(string message) => new() { Message = message, From = "test" };

    [Fact]
    public async Task A_typed_request_gets_its_typed_response()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        SumResponse response = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2, 39] });

        Assert.Equal(42, response.Sum);
        Assert.Equal(3, response.Count);
        Assert.Equal(client.Connection.PeerProcessId, response.ProcessId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(32)]
    [InlineData(70_000)]
    [InlineData(3 * 1024 * 1024)]
    public async Task A_raw_request_is_echoed_byte_for_byte(int size)
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);
        byte[] body = new byte[size];
        Random.Shared.NextBytes(body);

        IpcMessage answer = await client.RequestRawAsync(body);

        Assert.Equal(body, answer.Body.ToArray());
        Assert.Equal(0, answer.TypeId);
    }

    [Fact]
    public async Task Requests_in_flight_complete_out_of_order()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        Task<TextMessage> slow = Ask(client, "wait:gate");
        Task<TextMessage>[] fast = [.. Enumerable.Range(0, 50).Select(i => Ask(client, $"echo:{i}"))];
        TextMessage[] fastAnswers = await Task.WhenAll(fast).WaitAsync(TestTimeouts.Unexpected);

        // Sent first, still unanswered while everything after it was answered: the answers overtook it.
        Assert.False(slow.IsCompleted);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i.ToString(CultureInfo.InvariantCulture)), fastAnswers.Select(answer => answer.Message));
        await Ask(client, "release:gate");
        Assert.Equal("released gate", (await slow.WaitAsync(TestTimeouts.Unexpected)).Message);
    }

    [Fact]
    public async Task Thousands_of_concurrent_requests_each_get_their_own_answer()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        Task<SumResponse>[] requests = [.. Enumerable.Range(0, 3000).Select(i =>
            client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [i, i, 1] }).AsTask())];
        SumResponse[] answers = await Task.WhenAll(requests).WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(Enumerable.Range(0, 3000).Select(i => 2L * i + 1), answers.Select(answer => answer.Sum));
    }

    [Fact]
    public async Task A_handler_that_throws_sends_its_exception_and_the_server_goes_on()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        var error = await Assert.ThrowsAsync<PipeRemoteException>(() => Ask(client, "throw:out of toys"));

        Assert.Equal(typeof(InvalidOperationException).FullName, error.RemoteType);
        Assert.Equal("out of toys", error.RemoteMessage);
        Assert.Equal(3, (await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2] })).Sum);
        Assert.True(client.Connection.IsConnected);
    }

    [Fact]
    public async Task A_request_type_without_handler_gets_an_error_answer()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        var error = await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<Toy, Toy>(new Toy { Name = "bear" }).AsTask());

        Assert.Equal("IpcKit.Pipes.NoHandler", error.RemoteType);
        Assert.True(client.Connection.IsConnected);
    }

    [Fact]
    public async Task A_request_times_out_and_its_late_answer_is_ignored()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        await Assert.ThrowsAsync<TimeoutException>(() => Ask(client, "wait:late", TestTimeouts.Expected));
        await Ask(client, "release:late");

        // The late answer arrived in between and was dropped; the connection is as good as before.
        Assert.Equal("after", (await client.RequestAsync<TextMessage, TextMessage>(Text("echo:after"))).Message);
    }

    [Fact]
    public async Task A_cancelled_request_ends_with_cancellation_and_leaves_the_connection_usable()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);
        using var cancellation = new CancellationTokenSource();

        Task<TextMessage> waiting = Ask(client, "wait:cancel", cancellationToken: cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await Ask(client, "release:cancel");
        Assert.Equal("still", (await client.RequestAsync<TextMessage, TextMessage>(Text("echo:still"))).Message);
    }

    [Fact]
    public async Task One_way_messages_arrive_complete_and_in_order()
    {
        const int Count = 20_000;
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);
        var hash = new Fnv1a64();
        long bytes = 0;
        for (int n = 0; n < Count; n++)
        {
            byte[] payload = new byte[n % 100];
            for (int i = 0; i < payload.Length; i++)
            {
                payload[i] = unchecked((byte)(n * 31 + i));
            }

            hash.Append(payload);
            bytes += payload.Length;
            await client.SendRawAsync(payload);
        }

        // Frames are handled in order, so the answer to this request reflects every message before it.
        TextMessage stats = await Ask(client, "stats");

        Assert.Equal($"count={Count} bytes={bytes} fnv1a64={hash}", stats.Message);
    }

    [Fact]
    public async Task Senders_far_beyond_the_send_buffer_wait_for_room_and_lose_nothing()
    {
        const int Senders = 4;
        const int Each = 5_000;
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));

        // A tiny send buffer makes nearly every send wait for room, several senders at once sharing the one pending
        // flush. Heartbeats are far apart so that no ping moves frames along that the send path itself left behind.
        var options = new PipeClientOptions
        {
            SendBufferLimit = 1024,
            HeartbeatInterval = TimeSpan.FromSeconds(50),
            PeerTimeout = TimeSpan.FromSeconds(100),
            ReceiveMode = ClientOptions?.ReceiveMode ?? PipeReceiveMode.Auto,
            InlineCompletions = ClientOptions?.InlineCompletions ?? true,
        };
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, options, Connect, TestTimeouts.UnexpectedToken());
        await Task.WhenAll(Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            byte[] payload = new byte[100];
            for (int i = 0; i < Each; i++)
            {
                await client.SendRawAsync(payload);
            }
        }))).WaitAsync(TestTimeouts.Unexpected);

        TextMessage stats = await Ask(client, "stats").WaitAsync(TestTimeouts.Unexpected);

        Assert.StartsWith($"count={Senders * Each} bytes={Senders * Each * 100} ", stats.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_pushes_messages_to_the_client_that_asked()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);

        // Messages nobody reads are dropped by default: the reader starts before the pushes are asked for.
        await using IAsyncEnumerator<TextMessage> messages = client.ReceiveAllAsync<TextMessage>(TestTimeouts.UnexpectedToken()).GetAsyncEnumerator();
        ValueTask<bool> first = messages.MoveNextAsync();
        await Ask(client, "push:5");
        var received = new List<string>();
        Assert.True(await first);
        received.Add(messages.Current.Message);
        while (received.Count < 5 && await messages.MoveNextAsync())
        {
            received.Add(messages.Current.Message);
        }

        Assert.Equal(["push 0", "push 1", "push 2", "push 3", "push 4"], received);
    }

    [Fact]
    public async Task A_broadcast_reaches_every_client()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        PipeClient[] clients = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ConnectAsync(server.Name)));
        try
        {
            IAsyncEnumerator<TextMessage>[] readers = [.. clients.Select(client => client.ReceiveAllAsync<TextMessage>(TestTimeouts.UnexpectedToken()).GetAsyncEnumerator())];
            Task<bool>[] firsts = [.. readers.Select(reader => reader.MoveNextAsync().AsTask())];
            TextMessage reached = await Ask(clients[0], "broadcast:hello all");

            Assert.Equal("3", reached.Message);
            foreach (IAsyncEnumerator<TextMessage> reader in readers)
            {
                await using (reader)
                {
                    Assert.True(await firsts[Array.IndexOf(readers, reader)]);
                    Assert.Equal("hello all", reader.Current.Message);
                }
            }
        }
        finally
        {
            foreach (PipeClient client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_message_larger_than_the_peer_accepts_is_refused_before_sending()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"), maxFrameSize: 64 * 1024);
        await using PipeClient client = await ConnectAsync(server.Name);

        Assert.Equal(64 * 1024, client.Connection.PeerMaxFrameSize);
        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await client.SendRawAsync(new byte[64 * 1024 + 1]));
        Assert.Contains("65536", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestRawAsync(new byte[100_000]).AsTask());

        // Nothing was sent, so the connection is fine, and exactly the limit still passes.
        Assert.Equal(64 * 1024, (await client.RequestRawAsync(new byte[64 * 1024])).Body.Length);
    }

    [Fact]
    public async Task A_client_that_disposes_ends_in_an_orderly_way_on_both_sides()
    {
        await using TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        PipeClient client = await ConnectAsync(server.Name);
        await client.RequestRawAsync(new byte[] { 1 });

        await client.DisposeAsync();

        Assert.Equal(IpcCloseReason.Local, (await client.Completion).Reason);
        Assert.StartsWith(nameof(IpcCloseReason.PeerClosed), await server.NextClosedAsync(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.RequestRawAsync(new byte[] { 1 }).AsTask());
    }

    [Fact]
    public async Task A_stopping_server_fails_pending_requests_with_peer_gone_closed()
    {
        TestServer server = await StartServerAsync(UniqueName.Next("conf"));
        await using PipeClient client = await ConnectAsync(server.Name);
        Task<TextMessage> pending = Ask(client, "wait:never");
        await client.RequestRawAsync(new byte[] { 1 });

        await server.DisposeAsync();

        var gone = await Assert.ThrowsAsync<IpcPeerGoneException>(() => pending.WaitAsync(TestTimeouts.Unexpected));
        Assert.Equal(IpcCloseReason.PeerClosed, gone.Reason);
        Assert.Equal(IpcCloseReason.PeerClosed, (await client.Completion.WaitAsync(TestTimeouts.Unexpected)).Reason);
    }
}
