using System.Net.Sockets;
using System.Runtime.Versioning;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// The handshake from each side, in this process over a real Unix socket: a raw client in front of a server (a first
/// frame that is no hello, a hello at each of its bounds, a client that leaves before its hello) and a fake server in
/// front of a client (a refusal, a close, silence, a cancelled connect). Each side ends the connection with the reason
/// the protocol gives it, and says so to the peer only where the protocol says it should.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PipeHandshakeTests
{
    [SkippableFact]
    public async Task A_first_frame_that_is_not_a_hello_is_refused_with_an_error_frame_and_a_protocol_violation()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The raw client speaks to a Unix socket.");
        await using TestServer server = TestServer.InProcess(UniqueName.Next("nohello"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);

        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Message, 0, 1, [1, 2, 3]));

        var error = Assert.Single(await raw.ReadUntilClosedAsync());
        Assert.Equal(RawPipeClient.Error, error.Kind);
        Assert.Equal(0u, error.CorrelationId);
        Assert.Contains("must be a hello", PipeProtocol.ReadError(error.Body).Message, StringComparison.Ordinal);
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains("The first frame must be a hello (kind 0); the peer sent kind Message", closed, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(8u, 1u, 1u, null)]
    [InlineData(7u, 1u, 1u, "at least 8 (a ping's body)")]
    [InlineData(1u << 20, 0u, 1u, "a receive window of 0 bytes and a limit of 1 requests")]
    [InlineData(1u << 20, 1u, 0u, "a receive window of 1 bytes and a limit of 0 requests")]
    public async Task A_hello_is_accepted_exactly_down_to_its_bounds(uint maxBody, uint window, uint maxRequests, string? refusal)
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The raw client speaks to a Unix socket.");
        await using TestServer server = TestServer.InProcess(UniqueName.Next("bounds"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        byte[] hello = RawPipeClient.HelloFrame(maxBody: maxBody, window: window, maxRequests: maxRequests);

        if (refusal is null)
        {
            await raw.HandshakeAsync(hello);
            return;
        }

        await raw.SendAsync(hello);
        var error = Assert.Single(await raw.ReadUntilClosedAsync());
        Assert.Equal(RawPipeClient.Error, error.Kind);
        Assert.True(error.Body.Length <= maxBody, "The refusal stays within the body size the peer accepts.");
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains(refusal, closed, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(0, nameof(IpcCloseReason.PeerClosed))]
    [InlineData(10, nameof(IpcCloseReason.ProtocolViolation))]
    public async Task A_client_that_leaves_before_or_in_the_middle_of_its_hello_is_closed_for_that_reason(int sent, string reason)
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The raw client speaks to a Unix socket.");
        await using TestServer server = TestServer.InProcess(UniqueName.Next("leaves"));
        using (RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name))
        {
            await raw.SendAsync(RawPipeClient.HelloFrame()[..sent]);
        }

        // A clean end before the first byte is a peer that went away; an end inside a frame breaks the protocol.
        string closed = await server.NextClosedAsync();
        Assert.StartsWith(reason + " ", closed, StringComparison.Ordinal);
        Assert.Contains("closed the connection", closed, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task The_window_a_client_announces_in_its_hello_is_what_the_server_sends_ahead_of_its_credit()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The raw client speaks to a Unix socket.");
        await using TestServer server = TestServer.InProcess(UniqueName.Next("window"));
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(server.Name);
        int cost = PipeProtocol.MessageCost(MessagePackSerializer.Serialize(new TextMessage { Message = "push 0" }, IpcSerializer.Options).Length);
        await raw.HandshakeAsync(RawPipeClient.HelloFrame(window: (uint)(2 * cost)));

        // The server pushes five messages to the caller before it answers: two fit the window.
        byte[] push = MessagePackSerializer.Serialize(new TextMessage { Message = "push:5" }, IpcSerializer.Options);
        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Request, 1, MessageTypeId.Of<TextMessage>(), push));
        Assert.Equal(RawPipeClient.Message, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);
        Assert.Equal(RawPipeClient.Message, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);

        // The third waits for credit: a ping sent now is answered before it.
        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
        Assert.Equal(RawPipeClient.Pong, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);

        // Credit for the two read lets two more go; credit for those, the last and the answer.
        byte[] credit = new byte[PipeProtocol.CreditSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(credit, (uint)(2 * cost));
        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Credit, 0, 0, credit));
        Assert.Equal(RawPipeClient.Message, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);
        Assert.Equal(RawPipeClient.Message, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);
        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]));
        Assert.Equal(RawPipeClient.Pong, (await raw.ReadNextAfterHeartbeatsAsync())!.Value.Kind);

        await raw.SendAsync(RawPipeClient.Frame(RawPipeClient.Credit, 0, 0, credit));
        var rest = new List<byte>();
        while (await raw.ReadNextAfterHeartbeatsAsync() is { } frame)
        {
            rest.Add(frame.Kind);
            if (frame.Kind == RawPipeClient.Response)
            {
                break;
            }
        }

        Assert.Equal([RawPipeClient.Message, RawPipeClient.Response], rest);
    }

    [SkippableFact]
    public async Task A_server_that_refuses_with_an_error_frame_fails_the_connect_with_its_reason()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        using var fake = FakePipeServer.Start();
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, timeout: TestTimeouts.Unexpected);
        using RawPipeClient server = await fake.AcceptAsync();
        Assert.Equal(RawPipeClient.Hello, (await server.ReadFrameAsync())!.Value.Kind);

        var body = new System.Buffers.ArrayBufferWriter<byte>();
        PipeProtocol.WriteError(body, "Some.Problem", "go away");
        await server.SendAsync(RawPipeClient.Frame(RawPipeClient.Error, 0, 0, body.WrittenSpan));

        var error = await Assert.ThrowsAsync<IpcProtocolException>(() => connecting);
        Assert.Equal("The server refused the connection: go away", error.Message);

        // The client closes as on any protocol error, with an error frame (which the refusing server ignores).
        Assert.Equal([RawPipeClient.Error], (await server.ReadUntilClosedAsync()).Select(f => f.Kind));
    }

    [SkippableFact]
    public async Task A_server_that_closes_during_the_handshake_is_waited_out_like_a_missing_one()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        using var fake = FakePipeServer.Start();
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, timeout: TimeSpan.FromSeconds(1));
        using RawPipeClient server = await fake.AcceptAsync();
        Assert.Equal(RawPipeClient.Hello, (await server.ReadFrameAsync())!.Value.Kind);

        await server.SendAsync(RawPipeClient.Frame(RawPipeClient.Close, 0, 0, []));

        // Not a protocol error: a stopping server. The client tries again until its deadline, finding no server.
        var error = await Assert.ThrowsAsync<TimeoutException>(() => connecting);
        Assert.Contains("within", error.Message, StringComparison.Ordinal);
        Assert.Empty(await server.ReadUntilClosedAsync());
    }

    [SkippableFact]
    public async Task A_server_silent_after_the_accept_fails_the_connect_at_the_handshake_timeout_and_is_hung_up_on()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        using var fake = FakePipeServer.Start();
        var options = new PipeClientOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) };
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, options, TimeSpan.FromMilliseconds(300));
        using RawPipeClient server = await fake.AcceptAsync();

        var error = await Assert.ThrowsAsync<TimeoutException>(() => connecting);
        Assert.Contains("HandshakeTimeout", error.Message, StringComparison.Ordinal);

        // The client hangs up without a word after its hello.
        var frames = await server.ReadUntilClosedAsync();
        Assert.Equal([RawPipeClient.Hello], frames.Select(f => f.Kind));
    }

    [SkippableFact]
    public async Task A_connect_cancelled_during_the_handshake_throws_at_once_and_hangs_up()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        using var fake = FakePipeServer.Start();
        using var cancel = new CancellationTokenSource();
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, timeout: TestTimeouts.Unexpected, cancellationToken: cancel.Token);
        using RawPipeClient server = await fake.AcceptAsync();
        Assert.Equal(RawPipeClient.Hello, (await server.ReadFrameAsync())!.Value.Kind);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connecting);
        Assert.Empty(await server.ReadUntilClosedAsync());
    }

    [SkippableFact]
    public async Task A_socket_at_the_name_that_is_not_a_stream_server_fails_the_connect_at_once()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        string name = UniqueName.Next("dgram");
        string path = IpcName.GetPipePath(name);
        PipeEndpoint.EnsureFolder(Path.GetDirectoryName(path)!);
        using var datagram = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        datagram.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            // Not "no server yet" (which is waited out until the timeout): an error of its own, reported at once.
            Task<PipeClient> connecting = PipeClient.ConnectAsync(name, timeout: TimeSpan.FromMinutes(5));
            Exception error = await Assert.ThrowsAnyAsync<Exception>(() => connecting.WaitAsync(TestTimeouts.Unexpected));
            Assert.IsNotType<TimeoutException>(error);
        }
        finally
        {
            UserFolder.Delete(path);
        }
    }
}
