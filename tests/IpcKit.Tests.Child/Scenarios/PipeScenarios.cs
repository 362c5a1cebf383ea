using System.Collections.Concurrent;
using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Pipes;

namespace IpcKit.Tests.Child;

/// <summary>
/// Pipe scenarios, and the test service every test server runs (in a child process or, for the in-process
/// conformance tests, in the test process itself), so both kinds of server behave exactly alike.
/// </summary>
public static class PipeScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The test service. Raw requests are echoed; SumRequest is answered; TextMessage requests are commands:
    /// "echo:T" answers T; "wait:K" answers when "release:K" arrives (on any connection); "throw:M" throws
    /// InvalidOperationException(M); "push:N" pushes N TextMessages "push i" to the caller first; "broadcast:T" sends T
    /// to every client; "stats" answers "count=C bytes=B fnv1a64=H" for the raw messages this connection sent;
    /// "dropped" answers how many one-way messages of this connection nobody took; "call-client:N" asks the client
    /// (duplex) for the sum of N and N and answers it; "pid" answers the process id. Toy has no request handler (for
    /// the no-handler test) and no message handler (for the unhandled-message tests).
    /// </summary>
    public static void ConfigureTestService(PipeServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var gates = new ConcurrentDictionary<string, TaskCompletionSource>();
        TaskCompletionSource Gate(string key) => gates.GetOrAdd(key, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
        server.HandleRequest<SumRequest, SumResponse>((request, _, _) => ValueTask.FromResult(new SumResponse
        {
            Sum = request.Numbers.Sum(),
            Count = request.Numbers.Length,
            ProcessId = Environment.ProcessId,
        }));
        server.HandleRawMessage(static (message, connection, _) =>
        {
            ((RawStats)connection.State!).Add(message.Body.Span);
            return ValueTask.CompletedTask;
        });
        server.ConnectionOpened += (_, e) => e.Connection.State = new RawStats();
        server.HandleRequest<TextMessage, TextMessage>(async (request, connection, cancellationToken) =>
        {
            string command = request.Message;
            int colon = command.IndexOf(':', StringComparison.Ordinal);
            string verb = colon < 0 ? command : command[..colon];
            string argument = colon < 0 ? "" : command[(colon + 1)..];
            switch (verb)
            {
                case "echo":
                    return Text(argument);
                case "wait":
                    await Gate(argument).Task.WaitAsync(cancellationToken);
                    return Text("released " + argument);
                case "release":
                    Gate(argument).TrySetResult();
                    return Text("ok");
                case "throw":
                    throw new InvalidOperationException(argument);
                case "push":
                    int count = int.Parse(argument, CultureInfo.InvariantCulture);
                    for (int i = 0; i < count; i++)
                    {
                        await connection.SendAsync(Text($"push {i}"), cancellationToken: cancellationToken);
                    }

                    return Text("pushed");
                case "broadcast":
                    int reached = await server.BroadcastAsync(Text(argument), cancellationToken: cancellationToken);
                    return Text(reached.ToString(CultureInfo.InvariantCulture));
                case "stats":
                    return Text(((RawStats)connection.State!).ToString());
                case "pid":
                    return Text(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
                case "dropped":
                    return Text(connection.Statistics.MessagesDropped.ToString(CultureInfo.InvariantCulture));
                case "call-client":
                    long n = long.Parse(argument, CultureInfo.InvariantCulture);
                    SumResponse sum = await connection.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [n, n] }, cancellationToken: cancellationToken);
                    return Text(sum.Sum.ToString(CultureInfo.InvariantCulture));
                default:
                    throw new ArgumentException($"Unknown test command '{command}'.");
            }
        });
    }

    private static TextMessage Text(string message) => new() { Message = message, From = "server" };

    /// <summary>
    /// pipe-server NAME [max-frame=N] [peer-timeout=MS] [heartbeat=MS] [handshake-timeout=MS] [receive-mode=Auto|DedicatedThread|ThreadPool]
    /// [window=BYTES] [max-requests=N] [max-connections=N] [min-rate=BYTES/S] [unhandled=Drop|Queue]: runs the test service.
    /// Prints "READY PATH", "OPENED ID PID" and "CLOSED ID REASON MESSAGE" per connection; stops when stdin closes or
    /// reads "stop", then prints "STOPPED".
    /// </summary>
    [Scenario("pipe-server")]
    internal static async Task<int> ServerAsync(string[] args)
    {
        PipeServerOptions options = ParseOptions(args.AsSpan(1));
        await using var server = new PipeServer(args[0], options);
        ConfigureTestService(server);
        server.ConnectionOpened += (_, e) => Line($"OPENED {e.Connection.Id} {e.Connection.PeerProcessId}");
        server.ConnectionClosed += (_, e) => Line($"CLOSED {e.Connection.Id} {e.Connection.CloseInfo!.Reason} {e.Connection.CloseInfo.Exception.Message}");
        server.Start();
        Scenarios.Ready(server.Path);
        while (await Console.In.ReadLineAsync() is string line && line != "stop")
        {
        }

        await server.DisposeAsync();
        Line("STOPPED");
        return 0;
    }

    /// <summary>pipe-client-wait NAME: connects, sends a "wait:forever" request, prints READY and blocks (the test kills it).</summary>
    [Scenario("pipe-client-wait")]
    internal static async Task<int> ClientWaitAsync(string[] args)
    {
        await using PipeClient client = await PipeClient.ConnectAsync(args[0], timeout: Deadline);
        Task<TextMessage> pending = client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "wait:forever" }, Timeout.InfiniteTimeSpan).AsTask();
        Scenarios.Ready(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        await pending;
        return 0;
    }

    /// <summary>pipe-clients NAME CONNECTIONS REQUESTS: each connection sends REQUESTS sum requests (8 in flight) and checks every answer; prints "DONE N".</summary>
    [Scenario("pipe-clients")]
    internal static async Task<int> ClientsAsync(string[] args)
    {
        int connections = int.Parse(args[1], CultureInfo.InvariantCulture);
        int requests = int.Parse(args[2], CultureInfo.InvariantCulture);
        var clients = new PipeClient[connections];
        for (int c = 0; c < connections; c++)
        {
            clients[c] = await PipeClient.ConnectAsync(args[0], timeout: Deadline);
        }

        Scenarios.Ready();
        int answered = 0;
        await Task.WhenAll(clients.SelectMany(client => Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            for (int i = worker; i < requests; i += 8)
            {
                long[] numbers = [i, Environment.ProcessId, 7];
                SumResponse response = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = numbers }, Deadline);
                if (response.Sum != numbers.Sum() || response.Count != 3)
                {
                    throw new InvalidOperationException($"Wrong answer to request {i}: {response.Sum}.");
                }

                Interlocked.Increment(ref answered);
            }
        }))));
        foreach (PipeClient client in clients)
        {
            await client.DisposeAsync();
        }

        Line($"DONE {answered}");
        return 0;
    }

    /// <summary>
    /// pipe-connect-path PATH [hello]: connects a bare socket to PATH; prints CONNECTED, or DENIED when permission is
    /// refused (exit 0 both). With "hello" it then sends a hello, reads until the other side closes and prints
    /// "RECEIVED N" with the number of bytes it got.
    /// </summary>
    [Scenario("pipe-connect-path")]
    internal static async Task<int> ConnectPathAsync(string[] args)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(args[0]));
            Line("CONNECTED");
        }
        catch (System.Net.Sockets.SocketException exception) when (exception.SocketErrorCode == System.Net.Sockets.SocketError.AccessDenied)
        {
            Line("DENIED");
            return 0;
        }

        if (args.Length > 1 && args[1] == "hello")
        {
            byte[] frame = new byte[16 + 24];
            frame[0] = 24;
            "IPCK"u8.CopyTo(frame.AsSpan(16));
            frame[20] = 2;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(24), 1 << 20);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(28), Environment.ProcessId);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(32), 1 << 20);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(36), 256);
            long received = 0;
            byte[] buffer = new byte[4096];
            try
            {
                // A server that refuses at once may have closed before the hello goes: broken pipe, also the end.
                await socket.SendAsync(frame);
                int read;
                while ((read = await socket.ReceiveAsync(buffer).WaitAsync(Deadline)) > 0)
                {
                    received += read;
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Reset: the end, as much as a close.
            }

            Line($"RECEIVED {received}");
        }

        return 0;
    }

    private static PipeServerOptions ParseOptions(ReadOnlySpan<string> settings)
    {
        int maxFrame = 16 * 1024 * 1024;
        TimeSpan peerTimeout = TimeSpan.FromSeconds(2);
        TimeSpan heartbeat = TimeSpan.FromMilliseconds(500);
        TimeSpan handshake = TimeSpan.FromSeconds(5);
        PipeReceiveMode receiveMode = PipeReceiveMode.Auto;
        int window = 1024 * 1024;
        int maxRequests = 256;
        int maxConnections = 1024;
        int minRate = 64 * 1024;
        PipeUnhandledMessages unhandled = PipeUnhandledMessages.Drop;
        foreach (string setting in settings)
        {
            string[] pair = setting.Split('=', 2);
            if (pair[0] == "receive-mode")
            {
                receiveMode = Enum.Parse<PipeReceiveMode>(pair[1], ignoreCase: true);
                continue;
            }

            if (pair[0] == "unhandled")
            {
                unhandled = Enum.Parse<PipeUnhandledMessages>(pair[1], ignoreCase: true);
                continue;
            }

            int value = int.Parse(pair[1], CultureInfo.InvariantCulture);
            switch (pair[0])
            {
                case "max-frame":
                    maxFrame = value;
                    break;
                case "peer-timeout":
                    peerTimeout = TimeSpan.FromMilliseconds(value);
                    break;
                case "heartbeat":
                    heartbeat = TimeSpan.FromMilliseconds(value);
                    break;
                case "handshake-timeout":
                    handshake = TimeSpan.FromMilliseconds(value);
                    break;
                case "window":
                    window = value;
                    break;
                case "max-requests":
                    maxRequests = value;
                    break;
                case "max-connections":
                    maxConnections = value;
                    break;
                case "min-rate":
                    minRate = value;
                    break;
                default:
                    throw new ArgumentException($"Unknown pipe-server setting '{setting}'.");
            }
        }

        return new PipeServerOptions
        {
            MaxFrameSize = maxFrame,
            PeerTimeout = peerTimeout,
            HeartbeatInterval = heartbeat,
            HandshakeTimeout = handshake,
            ReceiveMode = receiveMode,
            InlineCompletions = receiveMode != PipeReceiveMode.ThreadPool,
            ReceiveBufferLimit = window,
            MaxConcurrentRequestsPerConnection = maxRequests,
            MaxConnections = maxConnections,
            MinBodyDataRate = minRate,
            UnhandledMessages = unhandled,
        };
    }

    private static void Line(string text)
    {
        Console.Out.WriteLine(text);
        Console.Out.Flush();
    }

    /// <summary>Count, bytes and FNV-1a-64 of the raw messages one connection sent.</summary>
    private sealed class RawStats
    {
        private readonly Lock _gate = new();
        private long _count;
        private long _bytes;
        private Fnv1a64 _hash;

        public void Add(ReadOnlySpan<byte> body)
        {
            lock (_gate)
            {
                _count++;
                _bytes += body.Length;
                _hash.Append(body);
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return string.Create(CultureInfo.InvariantCulture, $"count={_count} bytes={_bytes} fnv1a64={_hash}");
            }
        }
    }
}
