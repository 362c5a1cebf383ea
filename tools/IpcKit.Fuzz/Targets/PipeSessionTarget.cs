using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using IpcKit.Contracts;
using IpcKit.Pipes;

namespace IpcKit.Fuzz;

/// <summary>
/// A real <see cref="PipeConnection"/> talking to a peer played from the input. Byte 0: bit 0 picks the role (server:
/// the peer is a client whose first frame should be a hello; client: the peer is a server, and after its first frame
/// this side sends three requests, correlation ids 1 to 3, that the rest of the input may answer); the other bits
/// pick the read chunk size. The rest is every byte the peer sends, then its end of stream.
/// </summary>
/// <remarks>
/// Checked: the connection always ends, within a deadline, for a documented reason (protocol violation, peer died,
/// peer closed) with a documented exception; every request this side made ends with an answer or a documented
/// exception (never lost, never hung); handlers only fail as the harness's own handlers do; and every frame this side
/// wrote is well-formed and within the largest body the peer announced.
/// </remarks>
internal static class PipeSessionTarget
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);
    private static readonly int[] s_chunks = [65536, 1, 7, 16, 17, 100, 4096, 3];
    private static readonly ConcurrentQueue<Exception> s_handlerFailures = new();

    // No heartbeats or liveness verdicts: the input ends at once, and time must not decide the outcome.
    private static readonly PipeServerOptions s_serverOptions = new()
    {
        HeartbeatInterval = TimeSpan.FromSeconds(30),
        PeerTimeout = TimeSpan.FromSeconds(60),
        HandshakeTimeout = TimeSpan.FromSeconds(30),
        MaxConcurrentRequestsPerConnection = 4,
        ReceiveBufferLimit = 1024,
        ReceiveMode = PipeReceiveMode.ThreadPool,
    };

    private static readonly PipeClientOptions s_clientOptions = new()
    {
        HeartbeatInterval = TimeSpan.FromSeconds(30),
        PeerTimeout = TimeSpan.FromSeconds(60),
        HandshakeTimeout = TimeSpan.FromSeconds(30),
        DefaultTimeout = TimeSpan.FromSeconds(60),
        ReceiveBufferLimit = 1024,
        ReceiveMode = PipeReceiveMode.ThreadPool,
    };

    // Never started: it only carries the handlers, as an accepted connection's server does.
    private static readonly PipeServer s_server = CreateServer();

    internal static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0)
        {
            return;
        }

        bool server = (input[0] & 1) == 0;
        int chunk = s_chunks[(input[0] >> 1) % s_chunks.Length];
        byte[] peer = input[1..].ToArray();
        Task run = server ? Task.Run(() => RunServerAsync(peer, chunk)) : Task.Run(() => RunClientAsync(peer, chunk));
        bool finished;
        try
        {
            finished = run.Wait(s_deadline);
        }
        catch (AggregateException exception) when (exception.InnerExceptions.Count == 1)
        {
            throw exception.InnerExceptions[0];
        }

        FuzzInvariantException.Check(finished, $"the {(server ? "server" : "client")} side did not finish within {s_deadline} (a hang)");
        if (s_handlerFailures.TryDequeue(out Exception? failure))
        {
            s_handlerFailures.Clear();
            throw new FuzzInvariantException($"a handler failed in an undocumented way: {failure.GetType().FullName}: {failure.Message}", failure);
        }
    }

    private static async Task RunServerAsync(byte[] peer, int chunk)
    {
        using var stream = new FuzzStream(peer, chunk, hold: peer.Length);
        // The connection owns the transport and disposes it when it ends.
#pragma warning disable CA2000
        var connection = new PipeConnection(new PipeTransport(stream, null, 4242, null), s_serverOptions, s_server, isServerSide: true);
#pragma warning restore CA2000
        await using (connection.ConfigureAwait(false))
        {
            Task inbox = DrainInboxAsync(connection.ReceiveAllAsync());
            connection.Start(PipeDeadline.From(s_serverOptions.HandshakeTimeout, s_serverOptions.HandshakeTimeout), CancellationToken.None);
            PipeCloseInfo info = await connection.Completion.ConfigureAwait(false);
            await inbox.ConfigureAwait(false);
            CheckClose(info);
            CheckOutput(stream, peer);
        }
    }

    /// <summary>A request, or nothing when the peer announced a maximum body it does not fit (the documented ArgumentException).</summary>
    private static Task Start<T>(Func<ValueTask<T>> request)
    {
        try
        {
            return request().AsTask();
        }
        catch (ArgumentException)
        {
            return Task.CompletedTask;
        }
    }

    private static async Task RunClientAsync(byte[] peer, int chunk)
    {
        using var stream = new FuzzStream(peer, chunk, hold: FirstFrameLength(peer));
#pragma warning disable CA2000
        var connection = new PipeConnection(new PipeTransport(stream, null, 4242, null), s_clientOptions, peer: null, isServerSide: false);
#pragma warning restore CA2000
        await using (connection.ConfigureAwait(false))
        {
            try
            {
                connection.Start(PipeDeadline.From(s_clientOptions.HandshakeTimeout, s_clientOptions.HandshakeTimeout), CancellationToken.None);
                await connection.Handshake.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IpcProtocolException or IpcPeerGoneException)
            {
                stream.Release();
                CheckClose(await connection.Completion.ConfigureAwait(false));
                CheckOutput(stream, peer);
                return;
            }

            Task inbox = DrainInboxAsync(connection.ReceiveAllAsync());
            Task[] requests =
            [
                Start(() => connection.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [1, 2] })),
                Start(() => connection.RequestRawAsync("hi"u8.ToArray())),
                Start(() => connection.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "echo:x" })),
            ];
            stream.Release();
            foreach (Task request in requests)
            {
                try
                {
                    await request.ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is PipeRemoteException or IpcPeerGoneException or IpcProtocolException)
                {
                    // Answered with an error, or failed clearly when the connection ended: never silently lost.
                }
            }

            PipeCloseInfo info = await connection.Completion.ConfigureAwait(false);
            await inbox.ConfigureAwait(false);
            CheckClose(info);
            CheckOutput(stream, peer);
        }
    }

    /// <summary>The peer's first frame (header and body), which a client reads before it sends its requests.</summary>
    private static int FirstFrameLength(byte[] peer)
    {
        if (peer.Length < FrameHeader.Size)
        {
            return peer.Length;
        }

        uint body = BinaryPrimitives.ReadUInt32LittleEndian(peer);
        return body > PipeProtocol.ControlBodyLimit ? peer.Length : (int)Math.Min(peer.Length, FrameHeader.Size + body);
    }

    private static async Task DrainInboxAsync(IAsyncEnumerable<IpcMessage> messages)
    {
        try
        {
            await foreach (IpcMessage message in messages.ConfigureAwait(false))
            {
                try
                {
                    int which = Contracts.ForTypeId(message.TypeId);
                    _ = which switch
                    {
                        0 => (object)message.Deserialize<Toy>(),
                        1 => message.Deserialize<TextMessage>(),
                        2 => message.Deserialize<SumRequest>(),
                        3 => message.Deserialize<SumResponse>(),
                        _ => message.Deserialize<IDemoMessage>(),
                    };
                }
                catch (IpcProtocolException)
                {
                    // A body that is not what its type id says: the documented failure.
                }
            }
        }
        catch (Exception exception) when (exception is IpcPeerGoneException or IpcProtocolException)
        {
            // The inbox ends with the connection's reason when it did not close in an orderly way.
        }
    }

    private static void CheckClose(PipeCloseInfo info)
    {
        switch (info.Reason)
        {
            case IpcCloseReason.ProtocolViolation:
                FuzzInvariantException.Check(info.Exception is IpcProtocolException, $"a protocol violation reported as {info.Exception.GetType().FullName}");
                break;
            case IpcCloseReason.PeerDied:
            case IpcCloseReason.PeerClosed:
                // The input's end of stream is a peer that died, a close frame one that closed; nothing else can fail here.
                FuzzInvariantException.Check(
                    info.Exception is IpcPeerGoneException { InnerException: null },
                    $"the peer's departure reported as {info.Exception.GetType().FullName}: {info.Exception.Message} ({info.Exception.InnerException?.GetType().FullName})");
                break;
            default:
                throw new FuzzInvariantException(
                    $"the connection ended for an undocumented reason {info.Reason}: {info.Exception.GetType().FullName}: {info.Exception.Message}", info.Exception);
        }
    }

    /// <summary>Everything this side wrote must be well-formed frames: a hello first, none larger than the peer accepts.</summary>
    private static void CheckOutput(FuzzStream stream, byte[] peer)
    {
        FuzzInvariantException.Check(!stream.OutputOverflowed, $"this side wrote more than {FuzzStream.OutputLimit} bytes in answer to {peer.Length}");
        var buffer = new ReadOnlySequence<byte>(stream.Written());

        // A peer that announces less than 8 bytes cannot be answered at all (a pong echoes 8 bytes); below that the
        // check is for the smallest answers, which must still fit.
        int peerMax = Math.Max(PeerMaxBody(peer), PipeProtocol.PingSize);
        bool first = true;
        try
        {
            while (FrameHeader.TryRead(ref buffer, first ? PipeProtocol.ControlBodyLimit : peerMax, out FrameHeader header, out _))
            {
                first = false;
            }
        }
        catch (IpcProtocolException exception)
        {
            throw new FuzzInvariantException($"this side wrote a frame its peer must refuse: {exception.Message}", exception);
        }

        FuzzInvariantException.Check(buffer.IsEmpty, "this side's output ends in the middle of a frame");
    }

    /// <summary>The largest body the peer announced in its hello, or the handshake's limit when it sent none.</summary>
    private static int PeerMaxBody(byte[] peer)
    {
        var buffer = new ReadOnlySequence<byte>(peer);
        try
        {
            if (FrameHeader.TryRead(ref buffer, PipeProtocol.ControlBodyLimit, out FrameHeader header, out ReadOnlySequence<byte> body) && header.Kind == FrameKind.Hello)
            {
                return Math.Max(PipeProtocol.ReadHello(body.ToArray()).MaxBodyLength, 0);
            }
        }
        catch (IpcProtocolException)
        {
        }

        return PipeProtocol.ControlBodyLimit;
    }

    private static PipeServer CreateServer()
    {
        var server = new PipeServer("fuzz-session", s_serverOptions);
        server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));

        // Enumerable.Sum is checked: a peer's numbers can overflow it, which must become an error answer.
        server.HandleRequest<SumRequest, SumResponse>(static (request, _, _) => ValueTask.FromResult(new SumResponse { Sum = request.Numbers.Sum(), Count = request.Numbers.Length }));
        server.HandleRequest<TextMessage, TextMessage>(static async (request, _, cancellationToken) =>
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            return new TextMessage { Message = request.Message, From = "fuzz" };
        });
        server.HandleMessage<Toy>(static (_, _, _) => ValueTask.CompletedTask);
        server.HandleRawMessage(static (_, _, _) => ValueTask.CompletedTask);
        server.HandlerFailed += (_, e) =>
        {
            // The harness's handlers fail only like this: an overflowing sum, a cancelled wait, an answer too large for the peer.
            if (e.Exception is not (OverflowException or OperationCanceledException or ArgumentException))
            {
                s_handlerFailures.Enqueue(e.Exception);
            }
        };
        return server;
    }
}
