using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>Bad input against a live server in another process: that one connection ends with a logged reason, everyone else is served.</summary>
public sealed class PipeRobustnessTests
{
    public static TheoryData<string, bool, byte[], string> BadInputs()
    {
        var random = new Random(1234);
        byte[] randomBytes = new byte[256];
        random.NextBytes(randomBytes);
        byte[] notMagic = new byte[16];
        random.NextBytes(notMagic);
        byte[] badSum = [0xC1, 0x00, 0x13];
        return new TheoryData<string, bool, byte[], string>
        {
            // name, handshake first, bytes, what the server's logged reason must contain
            { "text instead of frames", false, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), "Unknown frame kind 47" },
            { "a huge length", false, [0xFF, 0xFF, 0xFF, 0x7F, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "2147483647-byte body" },

            // Lengths that a signed comparison would take for negative, hence below the limit.
            { "a length of 2^31", true, RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [], announcedLength: 0x8000_0000), "2147483648-byte body" },
            { "a length of 2^32 - 1", true, RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [], announcedLength: uint.MaxValue), "4294967295-byte body" },
            { "a first frame that is not a hello", false, RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [1, 2, 3]), "first frame must be a hello" },
            { "a hello without the magic", false, RawPipeClient.Frame(RawPipeClient.Hello, 0, 0, notMagic), "magic" },
            { "random bytes after the handshake", true, randomBytes, "" },
            { "an oversize frame header alone", true, RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [], announcedLength: 64 * 1024 + 1), "65537-byte body" },
            { "an unknown frame kind", true, RawPipeClient.Frame(9, 0, 0, [1]), "Unknown frame kind 9" },
            { "non-zero reserved bytes", true, RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [1], flags: 1), "must be zero" },
            { "a request body that is not its type", true, RawPipeClient.Frame(RawPipeClient.Request, 1, MessageTypeId.Of<SumRequest>(), badSum), "not a valid SumRequest (0x49b9f160)" },
            { "a second hello", true, RawPipeClient.HelloFrame(), "Hello frame after the handshake" },
        };
    }

    [SkippableTheory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_closes_only_that_connection_with_a_logged_reason(string what, bool handshake, byte[] bytes, string reason)
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("bad"), "max-frame=65536");
        await using PipeClient good = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);

        using (RawPipeClient bad = await RawPipeClient.ConnectAsync(server.Name))
        {
            if (handshake)
            {
                await bad.HandshakeAsync();
            }

            await bad.SendAsync(bytes);

            // The server closes the connection by itself (after an error frame that says why), without waiting for more.
            var frames = await bad.ReadUntilClosedAsync();
            Assert.All(frames, frame => Assert.True(frame.Kind is RawPipeClient.Error or RawPipeClient.Hello or RawPipeClient.Ping, $"{what}: unexpected frame kind {frame.Kind}"));
        }

        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains(reason, closed, StringComparison.Ordinal);

        // The connection that was there all along, and a new one, are both served.
        Assert.Equal(6, (await good.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2, 3] })).Sum);
        await using PipeClient later = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        Assert.Equal(new byte[] { 7 }, (await later.RequestRawAsync(new byte[] { 7 })).Body.ToArray());
    }

    [SkippableFact]
    public async Task A_frame_cut_off_by_the_peer_is_reported_as_truncated()
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("bad"));
        using (RawPipeClient bad = await RawPipeClient.ConnectAsync(server.Name))
        {
            await bad.HandshakeAsync();
            byte[] frame = RawPipeClient.Frame(RawPipeClient.Message, 0, 0, new byte[100]);
            await bad.SendAsync(frame[..40]);
            bad.ShutdownSend();
            await bad.ReadUntilClosedAsync();
        }

        string closed = await server.NextClosedAsync();
        Assert.StartsWith(nameof(IpcCloseReason.ProtocolViolation), closed, StringComparison.Ordinal);
        Assert.Contains("truncated", closed, StringComparison.Ordinal);
        await using PipeClient good = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        Assert.Equal(new byte[] { 1 }, (await good.RequestRawAsync(new byte[] { 1 })).Body.ToArray());
    }

    [SkippableFact]
    public async Task A_client_of_another_protocol_version_is_told_why_and_closed()
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("ver"));
        using RawPipeClient old = await RawPipeClient.ConnectAsync(server.Name);

        await old.SendAsync(RawPipeClient.HelloFrame(version: 1));
        var frames = await old.ReadUntilClosedAsync();

        var error = Assert.Single(frames);
        Assert.Equal(RawPipeClient.Error, error.Kind);
        Assert.Equal(0u, error.CorrelationId);
        string[] fields = MessagePackSerializer.Deserialize<string[]>(error.Body, IpcSerializer.Options);
        Assert.Equal("IpcKit.IpcProtocolException", fields[0]);
        Assert.Contains("version 1", fields[1], StringComparison.Ordinal);
        Assert.Contains("version mismatch", await server.NextClosedAsync(), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_silent_connection_delays_nobody_and_is_dropped_after_the_handshake_timeout(bool receiveThread)
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");

        // With receive threads the server waits for the hello in poll(2) on a thread of its own, not in .NET's engine.
        await using TestServer server = await TestServer.ChildAsync(
            UniqueName.Next("silent"), "handshake-timeout=3000", receiveThread ? "receive-mode=DedicatedThread" : "receive-mode=ThreadPool");
        using RawPipeClient silent = await RawPipeClient.ConnectAsync(server.Name);

        // While the silent one holds its connection open, others connect and are served.
        for (int i = 0; i < 3; i++)
        {
            await using PipeClient good = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
            Assert.Equal(3, (await good.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2] })).Sum);
        }

        Assert.Empty(await silent.ReadUntilClosedAsync());
        var closed = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            closed.Add(await server.NextClosedAsync());
        }

        Assert.Equal(3, closed.Count(line => line.StartsWith(nameof(IpcCloseReason.PeerClosed), StringComparison.Ordinal)));
        string dropped = Assert.Single(closed, line => line.StartsWith(nameof(IpcCloseReason.PeerUnresponsive), StringComparison.Ordinal));
        Assert.Contains("handshake", dropped, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_client_that_never_reads_stalls_only_itself()
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        await using TestServer server = await TestServer.ChildAsync(UniqueName.Next("stall"));
        using RawPipeClient stuck = await RawPipeClient.ConnectAsync(server.Name);
        await stuck.HandshakeAsync();

        // Asks for far more pushed messages than the server's send buffer and the socket hold, and never reads them.
        byte[] request = MessagePackSerializer.Serialize(new TextMessage { Message = "push:1000000" }, IpcSerializer.Options);
        await stuck.SendAsync(RawPipeClient.Frame(RawPipeClient.Request, 1, MessageTypeId.Of<TextMessage>(), request));

        await using PipeClient good = await PipeClient.ConnectAsync(server.Name, timeout: TestTimeouts.Unexpected);
        for (int i = 0; i < 200; i++)
        {
            byte[] body = BitConverter.GetBytes(i);
            Assert.Equal(body, (await good.RequestRawAsync(body, timeout: TestTimeouts.Unexpected)).Body.ToArray());
        }

        TextMessage pushed = await good.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "push:3" });
        Assert.Equal("pushed", pushed.Message);
    }

    [SkippableFact]
    public async Task A_server_of_another_protocol_version_fails_the_client_and_is_told_why()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The fake server binds a Unix socket in the Linux socket folder.");
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var fake = FakePipeServer.Start();
        Task<PipeClient> connecting = PipeClient.ConnectAsync(fake.Name, timeout: TestTimeouts.Unexpected);
        using RawPipeClient server = await fake.AcceptAsync();
        var hello = await server.ReadFrameAsync();
        Assert.Equal(RawPipeClient.Hello, hello!.Value.Kind);
        await server.SendAsync(RawPipeClient.HelloFrame(version: 7));

        var error = await Assert.ThrowsAsync<IpcProtocolException>(() => connecting);
        Assert.Contains("version 7", error.Message, StringComparison.Ordinal);
        var frames = await server.ReadUntilClosedAsync();
        var told = Assert.Single(frames);
        Assert.Equal(RawPipeClient.Error, told.Kind);
        Assert.Contains("version 7", MessagePackSerializer.Deserialize<string[]>(told.Body, IpcSerializer.Options)[1], StringComparison.Ordinal);
    }
}
