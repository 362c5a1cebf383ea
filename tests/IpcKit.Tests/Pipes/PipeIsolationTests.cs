using System.Collections.Concurrent;
using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// A caller's mistake fails that call, one-way messages nobody takes never hold up requests, and the channel is duplex:
/// against the test service in a child process.
/// </summary>
public sealed class PipeIsolationTests
{
    private static readonly TimeSpan s_short = TimeSpan.FromSeconds(2);

    private static Task<TextMessage> Ask(PipeClient client, string command, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = command }, timeout ?? TestTimeouts.Unexpected, cancellationToken).AsTask();

    [Fact]
    public async Task A_request_for_the_wrong_response_type_fails_that_call_naming_both_types_and_the_connection_goes_on()
    {
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("mistake"));
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);

        var error = await Assert.ThrowsAsync<IpcProtocolException>(() =>
            client.RequestAsync<SumRequest, Toy>(new SumRequest { Numbers = [1, 2] }, TestTimeouts.Unexpected).AsTask());

        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<SumResponse>()), error.Message, StringComparison.Ordinal);
        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<Toy>()), error.Message, StringComparison.Ordinal);
        Assert.True(client.Connection.IsConnected);
        Assert.Equal(3, (await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2] }, TestTimeouts.Unexpected)).Sum);
    }

    [Fact]
    public async Task Fifty_thousand_messages_nobody_handles_are_dropped_and_counted_and_a_request_is_answered_at_once()
    {
        const int Count = 50_000;
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("unhandled"));
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        var toy = new Toy { Name = "kite" };

        // The server has no handler for Toy messages and nobody reads its inbox: it drops them instead of stalling.
        for (int i = 0; i < Count; i++)
        {
            toy.Sequence = i;
            await client.SendAsync(toy, s_short);
        }

        using var token = new CancellationTokenSource(s_short);
        TextMessage dropped = await Ask(client, "dropped", s_short, token.Token);

        // Frames are handled in order: the answer comes after every one of them was dropped.
        Assert.Equal(Count.ToString(CultureInfo.InvariantCulture), dropped.Message);
    }

    [Fact]
    public async Task Messages_kept_for_a_later_reader_fill_only_the_window_and_hold_up_the_sender_never_a_request()
    {
        const int Window = 64 * 1024;
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("window"), "unhandled=Queue", $"window={Window}");
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        byte[] body = new byte[1024 - FrameHeader.Size];

        // Nobody reads on the server: the sender may be ahead by the window (and one message), then its sends wait.
        int sent = 0;
        TimeoutException? full = null;
        while (full is null)
        {
            try
            {
                await client.SendAsync(new Toy { Name = Convert.ToHexString(body) }, TestTimeouts.Expected);
                sent++;
            }
            catch (TimeoutException exception)
            {
                full = exception;
            }

            Assert.True(sent < 10_000, "the window never filled");
        }

        Assert.Contains("ReceiveBufferLimit", full.Message, StringComparison.Ordinal);
        Assert.InRange(client.Connection.Output.Outstanding, Window, Window + 4096);

        // Requests and answers pass the full window: no head-of-line blocking.
        using var token = new CancellationTokenSource(s_short);
        Assert.Equal("still here", (await Ask(client, "echo:still here", s_short, token.Token)).Message);

        // And a sender waiting for room gives up on its token, sending nothing.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SendAsync(new Toy { Name = "x" }, Timeout.InfiniteTimeSpan, cancel.Token).AsTask());
        Assert.True(client.Connection.IsConnected);
    }

    [Fact]
    public async Task A_server_calls_a_client_that_registered_handlers()
    {
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("duplex"));
        var pushed = new ConcurrentQueue<string>();
        var allPushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new PipeClient(server.Name);
        client.HandleRequest<SumRequest, SumResponse>((request, connection, _) =>
            ValueTask.FromResult(new SumResponse { Sum = request.Numbers.Sum() * 10, Count = request.Numbers.Length }));
        client.HandleMessage<TextMessage>((message, _, _) =>
        {
            pushed.Enqueue(message.Message);
            if (pushed.Count == 3)
            {
                allPushed.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await client.ConnectAsync(TestTimeouts.Unexpected);

        // The server's handler asks this client for 21 + 21 and answers with what the client's handler said.
        Assert.Equal("420", (await Ask(client, "call-client:21")).Message);

        // Messages the server pushes go to the client's handler, in order.
        await Ask(client, "push:3");
        await allPushed.Task.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(["push 0", "push 1", "push 2"], pushed);
    }
}
