using System.Buffers;
using System.Net.Sockets;
using IpcKit.Pipes;
using IpcKit.SharedMemory;
using TextMessage = IpcKit.Contracts.TextMessage;
using IpcKit.Tests.Pipes;
using IpcKit.Tests.SharedMemory;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Library bugs the fuzzers found, each pinned by a direct test (the input itself is replayed from
/// tools/fuzz/regressions by <see cref="FuzzReplayTests"/>).
/// </summary>
public sealed class FuzzFindingsTests : RingTestBase
{
    private const int WritePosition = 128;
    private const int ReadPosition = 256;

    /// <summary>
    /// tools/fuzz/regressions/ring/negative-read-position: a read position of long.MinValue + 2840 and a write position
    /// of 3832. "write - read" overflowed to a negative number, passed "at most one capacity ahead", and the reader
    /// delivered empty records from garbage for some 2^63 bytes: an endless stream of phantom messages.
    /// </summary>
    [Theory]
    [InlineData(long.MinValue + 2840, 3832L)]
    [InlineData(-8L, 0L)]
    [InlineData(-4096L, 0L)]
    public void A_negative_read_position_is_corruption_for_the_reader_and_the_writer(long read, long write)
    {
        string name = CreateRing(4096);
        using (var raw = new RawRing(name))
        {
            raw.Write(ReadPosition, read);
            raw.Write(WritePosition, write);
        }

        var exception = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("negative", exception.Message, StringComparison.Ordinal);
        Assert.Equal(read, exception.Position);
        Assert.Throws<IpcCorruptionException>(() => RingWriter.Attach(name));
    }

    [Fact]
    public void A_write_position_that_turns_negative_under_a_live_reader_is_corruption()
    {
        string name = CreateRing(4096);
        using RingReader reader = RingReader.Attach(name);
        using (var raw = new RawRing(name))
        {
            raw.Write(WritePosition, long.MinValue + 8);
        }

        Assert.Throws<IpcCorruptionException>(() => reader.Drain(static (_, _) => { }));
    }
}

/// <summary>Pipe findings of the fuzzers.</summary>
public sealed class PipeFuzzFindingsTests
{
    /// <summary>
    /// tools/fuzz/regressions/pipe-session/error-larger-than-the-peer-accepts: error answers were not fitted to the
    /// largest body the peer announced. A handler exception with a long message, answered to a client with a small
    /// MaxFrameSize, made the client refuse the frame and close the connection instead of failing that one request.
    /// </summary>
    [Fact]
    public async Task A_long_error_answer_is_shortened_to_what_the_client_accepts_and_the_connection_lives_on()
    {
        string name = UniqueName.Next("finding");
        await using var server = new PipeServer(name);
        server.HandleRequest<TextMessage, TextMessage>((request, _, _) => request.Message == "long"
            ? throw new InvalidOperationException(new string('x', 3000))
            : ValueTask.FromResult(new TextMessage { Message = "fine" }));
        server.Start();
        await using PipeClient client = await PipeClient.ConnectAsync(
            name, new PipeClientOptions { MaxFrameSize = 1024 }, TestTimeouts.Unexpected);

        var remote = await Assert.ThrowsAsync<PipeRemoteException>(
            () => client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "long" }, TestTimeouts.Unexpected).AsTask());
        Assert.Equal("System.InvalidOperationException", remote.RemoteType);
        Assert.StartsWith("xxxx", remote.RemoteMessage, StringComparison.Ordinal);
        Assert.True(remote.RemoteMessage.Length < 1024, $"An error answer of {remote.RemoteMessage.Length} characters reached a client that accepts 1024 bytes.");
        TextMessage answer = await client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "ok" }, TestTimeouts.Unexpected);
        Assert.Equal("fine", answer.Message);
        Assert.True(client.Connection.IsConnected);
    }

    /// <summary>
    /// tools/fuzz/regressions/pipe-session/goodbye-larger-than-the-peer-accepts-*: the error frame a connection sends
    /// before it closes over a protocol violation was fitted to the control limit (256 bytes), not to the body size the
    /// peer announced in its hello: a peer that takes 16 bytes got a frame it must refuse.
    /// </summary>
    [SkippableFact]
    public async Task The_error_sent_before_closing_over_bad_input_fits_what_the_peer_announced()
    {
        Skip.If(OperatingSystem.IsWindows(), "The raw client speaks to a Unix socket.");
        const uint announced = 16;
        string name = UniqueName.Next("finding");
        await using var server = new PipeServer(name);
        server.Start();
        using RawPipeClient raw = await RawPipeClient.ConnectAsync(name);
        await raw.SendAsync(RawPipeClient.HelloFrame(maxBody: announced));
        (byte kind, _, _, _) = await raw.ReadFrameAsync() ?? throw new InvalidOperationException("The server closed during the handshake.");
        Assert.Equal(RawPipeClient.Hello, kind);

        // An unknown frame kind: the server closes with an error that explains it, as long as it fits.
        await raw.SendAsync(RawPipeClient.Frame(42, 0, 0, []));
        var frames = await raw.ReadUntilClosedAsync();
        var goodbye = Assert.Single(frames, frame => frame.Kind == RawPipeClient.Error);
        Assert.True(goodbye.Body.Length <= announced, $"The goodbye error has {goodbye.Body.Length} bytes; the client announced {announced}.");
        (string type, _) = PipeProtocol.ReadError(new ReadOnlySequence<byte>(goodbye.Body));
        Assert.NotNull(type);
    }

    /// <summary>
    /// tools/fuzz/regressions/pipe-session/malformed-error-answer-*: a request answered by an error frame whose body is
    /// not an array of two strings was taken out of the pending table and never failed: the caller waited forever
    /// (past its own timeout, which only sees pending requests) while the connection closed. tools/fuzz/regressions/
    /// pipe-frames/error-body-str32-length-above-int-max: such a body could also make ReadError throw
    /// ArgumentOutOfRangeException instead of IpcProtocolException (a "Disconnected" close, or that exception out of
    /// PipeClient.ConnectAsync when it was the server's refusal).
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x90 })]
    [InlineData(new byte[] { 0x92, 0xDB, 0x99, 0x99, 0x99, 0x99 })]
    [InlineData(new byte[] { 0x92, 0xA1 })]
    public async Task A_request_answered_by_a_malformed_error_frame_fails_with_a_protocol_error_instead_of_hanging(byte[] errorBody)
    {
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(new ReadOnlySequence<byte>(errorBody)));

        using var folder = new TempDirectory();
        var endpoint = new UnixDomainSocketEndPoint(folder.File("peer.sock"));
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(endpoint);
        listener.Listen();
        // The connection owns the socket (through its transport) and disposes it when it ends.
#pragma warning disable CA2000
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(endpoint);
        using Socket peer = await listener.AcceptAsync();
        var options = new PipeClientOptions();
        var connection = new PipeConnection(new PipeTransport(new NetworkStream(socket, ownsSocket: true), socket, null, (OperatingSystem.IsWindows() ? null : (uint?)Interop.Files.GetEffectiveUserId())), options, peer: null, isServerSide: false);
#pragma warning restore CA2000
        await using (connection)
        {
            byte[] hello = new byte[PipeProtocol.HelloSize];
            PipeProtocol.WriteHello(hello, new PipeProtocol.Hello(PipeProtocol.Version, 1 << 20, 4242, 1 << 20, 256));
            await peer.SendAsync(Frame(FrameKind.Hello, 0, hello));
            connection.Start(PipeDeadline.From(TestTimeouts.Unexpected, TestTimeouts.Unexpected), TestTimeouts.UnexpectedToken());
            await connection.Handshake.WaitAsync(TestTimeouts.Unexpected);

            Task<IpcMessage> request = connection.RequestRawAsync("hi"u8.ToArray(), timeout: Timeout.InfiniteTimeSpan).AsTask();
            await peer.SendAsync(Frame(FrameKind.Error, 1, errorBody));

            await Assert.ThrowsAsync<IpcProtocolException>(() => request.WaitAsync(TestTimeouts.Unexpected));
            PipeCloseInfo info = await connection.Completion.WaitAsync(TestTimeouts.Unexpected);
            Assert.Equal(IpcCloseReason.ProtocolViolation, info.Reason);
        }
    }

    private static byte[] Frame(FrameKind kind, uint correlationId, byte[] body)
    {
        byte[] frame = new byte[FrameHeader.Size + body.Length];
        new FrameHeader(kind, body.Length, correlationId, 0).Write(frame);
        body.CopyTo(frame, FrameHeader.Size);
        return frame;
    }
}

/// <summary>What the chaos tests found.</summary>
public sealed class ChaosFindingsTests
{
    /// <summary>
    /// PipeChaosTests: a client that (re)connected into the backlog of a server killed before it read the hello got
    /// "connection reset" in the handshake, an IOException that neither the connect loop nor the reconnect loop
    /// retried: an AutoReconnect client gave up for good although the next server was already listening.
    /// </summary>
    [SkippableFact]
    public async Task A_handshake_cut_by_a_reset_is_retried_until_a_server_answers()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Unix sockets, as the pipe uses them on Linux.");
        string name = UniqueName.Next("finding");

        // Keeps the socket folder in use (and existing) while this test puts a raw socket in it.
        await using var keeper = new PipeServer(UniqueName.Next("keeper"));
        keeper.Start();
        var endpoint = new UnixDomainSocketEndPoint(IpcName.GetPipePath(name));
        Task<PipeClient> connecting;
        using (var dying = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dying.Bind(endpoint);
            dying.Listen();
            connecting = PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);
            using Socket accepted = await dying.AcceptAsync();

            // The client's hello has arrived and stays unread: closing now resets the connection, as a SIGKILL does.
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while (accepted.Available < FrameHeader.Size + PipeProtocol.HelloSize && deadline.Elapsed < TestTimeouts.Unexpected)
            {
                await Task.Yield();
            }

            accepted.LingerState = new LingerOption(true, 0);
        }

        UserFolder.Delete(IpcName.GetPipePath(name));
        await using var server = new PipeServer(name);
        server.Start();
        await using PipeClient client = await connecting.WaitAsync(TestTimeouts.Unexpected);
        Assert.True(client.Connection.IsConnected);
    }
}
