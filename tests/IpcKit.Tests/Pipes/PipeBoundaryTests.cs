using System.Collections.Concurrent;
using System.Net.Sockets;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// Documented limits of the protocol, each at its exact boundary (the last value that passes and the first that does
/// not), against a server in a child process driven by the raw client: the first frame's 4096 bytes, the hello's
/// smallest maximum body, the window and the request limit a peer announced, an error frame with correlation id 0.
/// </summary>
public sealed class PipeBoundaryTests
{
    [SkippableTheory]
    [InlineData(4096, true)]
    [InlineData(4097, false)]
    public async Task A_first_frame_may_have_4096_bytes_of_body_whatever_the_largest_frame(int bodyLength, bool accepted)
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("first"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        byte[] hello = RawPipeClient.HelloFrame(bodyLength: bodyLength);

        if (accepted)
        {
            // A longer hello is allowed (later versions append fields): the padding is ignored.
            await raw.HandshakeAsync(hello);
            return;
        }

        await raw.SendAsync(hello[..(FrameHeader.Size + 32)]);
        Assert.Equal(RawPipeClient.Error, Assert.Single(await raw.ReadUntilClosedAsync()).Kind);
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains("4097-byte body; the largest this side accepts here is 4096", closed, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(8u, true)]
    [InlineData(7u, false)]
    public async Task A_hello_must_accept_at_least_the_8_bytes_of_a_ping(uint maxBody, bool accepted)
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("tiny"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);

        if (accepted)
        {
            await raw.HandshakeAsync(RawPipeClient.HelloFrame(maxBody: maxBody));
            return;
        }

        await raw.SendAsync(RawPipeClient.HelloFrame(maxBody: maxBody));

        // Told why within the 7 bytes it accepts: nothing fits, so the error is empty.
        var error = Assert.Single(await raw.ReadUntilClosedAsync());
        Assert.Equal(RawPipeClient.Error, error.Kind);
        Assert.True(error.Body.Length <= 7);
        Assert.Contains("at least 8", await server.NextClosedAsync(), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(1u, 1u, true)]
    [InlineData(0u, 256u, false)]
    [InlineData(1u << 20, 0u, false)]
    public async Task A_hello_must_allow_at_least_one_byte_of_window_and_one_request(uint window, uint maxRequests, bool accepted)
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("window"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);

        if (accepted)
        {
            await raw.HandshakeAsync(RawPipeClient.HelloFrame(window: window, maxRequests: maxRequests));
            return;
        }

        await raw.SendAsync(RawPipeClient.HelloFrame(window: window, maxRequests: maxRequests));
        Assert.Equal(RawPipeClient.Error, Assert.Single(await raw.ReadUntilClosedAsync()).Kind);
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains($"a receive window of {window} bytes and a limit of {maxRequests} requests; both must be at least 1", closed, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task An_error_frame_with_correlation_id_0_closes_the_connection_with_the_peers_reason()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("err0"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        await raw.HandshakeAsync();
        var body = new System.Buffers.ArrayBufferWriter<byte>();
        PipeProtocol.WriteError(body, "Peer.Problem", "I give up");

        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Error, 0, 0, body.WrittenSpan));

        await raw.ReadUntilClosedAsync();
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains("The peer reported a protocol error and closes: I give up", closed, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_peer_that_sends_once_the_window_it_was_given_is_full_breaks_the_protocol_and_not_before()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        const int Window = 4096;
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("flood"), "unhandled=Queue", $"window={Window}");
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        (uint window, _) = await raw.HandshakeAsync();
        Assert.Equal((uint)Window, window);

        // Nobody reads on the server, so nothing is credited. A message may go while less than the window is outstanding:
        // 256 empty messages of 16 bytes fill it exactly (the last one goes at 4080), and the next is one too many.
        byte[] message = RawPipeClient.Frame(RawPipeClient.Message, 0, MessageTypeId.Of<Toy>(), []);
        for (int i = 0; i < Window / message.Length; i++)
        {
            await raw.SendAsync(message);
        }

        byte[] echo = RawPipeClient.Frame(RawPipeClient.Request, 1, 0, [42]);
        await raw.SendAsync(echo);
        var answer = await raw.ReadNextAfterHeartbeatsAsync();
        Assert.Equal((RawPipeClient.Response, 1u), (answer!.Value.Kind, answer.Value.CorrelationId));

        await raw.SendAsync(message);
        Assert.Contains(await raw.ReadUntilClosedAsync(), frame => frame.Kind == RawPipeClient.Error);
        Assert.Contains("ReceiveBufferLimit", await server.NextClosedAsync(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_peer_that_has_more_requests_running_than_it_was_allowed_breaks_the_protocol()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("greedy"), "max-requests=2");
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        (_, uint maxRequests) = await raw.HandshakeAsync();
        Assert.Equal(2u, maxRequests);
        byte[] Wait(uint id) => RawPipeClient.Frame(
            RawPipeClient.Request, id, MessageTypeId.Of<TextMessage>(), MessagePackSerializer.Serialize(new TextMessage { Message = "wait:greedy" }, IpcSerializer.Options));

        await raw.SendAsync([.. Wait(1), .. Wait(2)]);
        await raw.SendAsync(Wait(3));

        Assert.Contains(await raw.ReadUntilClosedAsync(), frame => frame.Kind == RawPipeClient.Error && frame.CorrelationId == 0);
        Assert.Contains("MaxConcurrentRequestsPerConnection", await server.NextClosedAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_at_the_request_limit_sends_its_next_request_the_moment_an_answer_comes_and_is_never_over_the_limit()
    {
        // A limit of 1, answers completed on the thread pool: the next request is sent as soon as the answer is read,
        // and the server's receive loop counts it while the answering thread may still be in its write. The server must
        // count the request out before its answer can reach the client, or a conforming client breaks the protocol.
        await using var server = new PipeServer(UniqueName.Next("limit1"), new PipeServerOptions { MaxConcurrentRequestsPerConnection = 1 });
        server.HandleRawRequest(async (request, _, _) =>
        {
            await Task.Yield();
            return new IpcMessage(request.TypeId, request.Body.ToArray());
        });
        server.Start();
        await using PipeClient client = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);

        for (int i = 0; i < 5000; i++)
        {
            IpcMessage answer = await client.RequestRawAsync(BitConverter.GetBytes(i), timeout: TestTimeouts.Unexpected);
            Assert.Equal(i, BitConverter.ToInt32(answer.Body.Span));
        }
    }

    [Fact]
    public async Task Requests_on_a_live_connection_keep_their_answers_across_the_correlation_id_wrap()
    {
        string name = UniqueName.Next("wrap");
        await using TestServer server = TestServer.InProcess(name);
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
        client.Connection.Requests.SetLastIdForTesting(uint.MaxValue - 3);

        Task<IpcMessage>[] requests = [.. Enumerable.Range(0, 8).Select(i => client.RequestRawAsync(new[] { (byte)i }, timeout: TestTimeouts.Unexpected).AsTask())];
        IpcMessage[] answers = await Task.WhenAll(requests);

        Assert.Equal(Enumerable.Range(0, 8).Select(i => (byte)i), answers.Select(answer => answer.Body.Span[0]));
    }

    [Fact]
    public async Task A_handler_that_throws_is_reported_through_HandlerFailed_with_its_connection_and_exception()
    {
        string name = UniqueName.Next("failed");
        var failures = new ConcurrentQueue<PipeHandlerFailedEventArgs>();
        var twoFailed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new PipeServer(name);
        server.HandleRequest<TextMessage, TextMessage>((_, _, _) => throw new InvalidOperationException("request failed"));
        server.HandleMessage<Toy>(async (toy, _, _) =>
        {
            await Task.Yield();
            throw new FormatException($"message {toy.Sequence} failed");
        });
        server.HandlerFailed += (_, e) =>
        {
            failures.Enqueue(e);
            if (failures.Count == 2)
            {
                twoFailed.TrySetResult();
            }
        };
        server.Start();
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);

        await Assert.ThrowsAsync<PipeRemoteException>(() => client.RequestAsync<TextMessage, TextMessage>(new TextMessage(), TestTimeouts.Unexpected).AsTask());
        await client.SendAsync(new Toy { Sequence = 7 });
        await twoFailed.Task.WaitAsync(TestTimeouts.Unexpected);

        PipeConnection connection = Assert.Single(server.Connections);
        Assert.All(failures, failure => Assert.Same(connection, failure.Connection));
        Assert.Contains(failures, failure => failure.Exception is InvalidOperationException { Message: "request failed" });
        Assert.Contains(failures, failure => failure.Exception is FormatException { Message: "message 7 failed" });
        Assert.True(client.Connection.IsConnected);
    }

    [SkippableFact]
    public async Task The_kernel_reports_the_peers_user_and_process_and_the_hellos_process_id_does_not_stand_in()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "SO_PEERCRED is read on Linux.");
        string name = UniqueName.Next("cred");
        var opened = new TaskCompletionSource<PipeConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new PipeServer(name);
        server.ConnectionOpened += (_, e) => opened.TrySetResult(e.Connection);
        server.Start();

        // A connected socket pair as the accept path builds it: the kernel says who is at the other end.
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(server.Path));
        using RawPipeClient raw = RawPipeClient.FromAccepted(client);

        // The hello claims process 4242; the kernel's answer (this process) wins.
        await raw.HandshakeAsync(RawPipeClient.HelloFrame(processId: 4242));
        PipeConnection connection = await opened.Task.WaitAsync(TestTimeouts.Unexpected);

        Assert.Equal(Environment.ProcessId, connection.PeerProcessId);
        Assert.Equal((OperatingSystem.IsWindows() ? null : (uint?)Interop.Files.GetEffectiveUserId()), connection.PeerUserId);
    }
}
