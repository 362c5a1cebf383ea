using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using IpcKit.Diagnostics;
using IpcKit.Pipes;

namespace IpcKit.Cli.Commands;

/// <summary>
/// <c>ipckit pipe</c>: serve, send to, call and inspect pipe channels. Payloads are deterministic so scripts can compare
/// both ends: byte i of message n (n from 0) is (byte)(n * 31 + i), and every summary prints the count, the bytes and
/// the FNV-1a-64 hash of all payload bytes in order.
/// </summary>
/// <remarks>
/// Exit codes (IpcExitCode): 0 success; 1 no server listened within --timeout; 2 bad arguments or invalid name;
/// 3 the server went away mid-way (killed, crashed or stopped); 4 protocol violation or an echo that differs;
/// 5 any other error, for example the name is held by another server.
/// </remarks>
internal static class PipeCommands
{
    private const int DefaultConnectTimeoutMilliseconds = 5000;

    internal static Command Create()
    {
        var pipe = new Command("pipe", "Framed pipe channels (Unix domain sockets; named pipes on Windows).");
        pipe.Subcommands.Add(ServeVerb());
        pipe.Subcommands.Add(SendVerb());
        pipe.Subcommands.Add(CallVerb());
        pipe.Subcommands.Add(InfoVerb());
        return pipe;
    }

    private static Option<int> Size() => new("--size")
    {
        Description = "Payload bytes per message.",
        DefaultValueFactory = _ => 32,
        Validators = { result => CliOptions.RejectBelow(result, 0) },
    };

    private static Option<PipeReceiveMode> ReceiveMode() => new("--receive-mode")
    {
        Description = "How connections read (PipeChannelOptions.ReceiveMode): Auto (a thread per connection for a client and a server's first 16 connections), DedicatedThread, or ThreadPool.",
        DefaultValueFactory = _ => PipeReceiveMode.Auto,
    };

    private static Option<int> ConnectTimeout() =>
        CliOptions.TimeoutMilliseconds("a server to listen (exit code 1 if none does)", DefaultConnectTimeoutMilliseconds);

    private static Command ServeVerb()
    {
        Argument<string> name = CliOptions.Name("pipe");
        var echo = new Option<bool>("--echo") { Description = "Answer every raw request with its own body." };
        Option<PipeReceiveMode> receiveMode = ReceiveMode();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command(
            "serve",
            "Listen until SIGTERM or Ctrl+C. Prints 'listening PATH' when ready, a line per client that connects and a summary per client that leaves (count, bytes, fnv1a64 of its raw messages), and a total on exit.")
        {
            name, echo, receiveMode, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            bool asJson = parse.GetValue(json);
            var total = new Summary();
            int clients = 0;
            await using var server = new PipeServer(parse.GetValue(name)!, new PipeServerOptions { ReceiveMode = parse.GetValue(receiveMode) });
            server.HandleRawMessage(static (message, connection, _) =>
            {
                var stats = (Summary)connection.State!;
                stats.Add(message.Body.Span);
                stats.Total!.Add(message.Body.Span);
                return ValueTask.CompletedTask;
            });
            if (parse.GetValue(echo))
            {
                server.HandleRawRequest(static (request, _, _) => ValueTask.FromResult(request));
            }

            server.ConnectionOpened += (_, e) =>
            {
                Interlocked.Increment(ref clients);
                e.Connection.State = new Summary { Total = total };
                if (asJson)
                {
                    CliOptions.WriteJson(new { @event = "connected", id = e.Connection.Id, pid = e.Connection.PeerProcessId });
                }
                else
                {
                    Console.Out.WriteLine($"connected {e.Connection.Id} pid={e.Connection.PeerProcessId?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
                }
            };
            server.ConnectionClosed += (_, e) => ReportClient(e.Connection, asJson);
            server.Start();

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            if (asJson)
            {
                CliOptions.WriteJson(new { @event = "listening", name = server.Name, path = server.Path });
            }
            else
            {
                Console.Out.WriteLine($"listening {server.Path}");
            }

            Console.Out.Flush();
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            await server.DisposeAsync();
            (long count, long bytes, string hash) = total.Read();
            if (asJson)
            {
                CliOptions.WriteJson(new { @event = "stopped", clients, count, bytes, fnv1a64 = hash });
            }
            else
            {
                Console.Out.WriteLine($"stopped clients={clients} count={count} bytes={bytes} fnv1a64={hash}");
            }

            return 0;
        });
        return command;
    }

    private static void ReportClient(PipeConnection connection, bool asJson)
    {
        PipeCloseInfo info = connection.CloseInfo!;
        if (connection.State is not Summary stats)
        {
            // It never completed the handshake (a probe from 'ipckit pipe info', or garbage): only say why if it was bad.
            if (!info.IsOrderly && info.Reason != IpcCloseReason.PeerDied)
            {
                Console.Error.WriteLine($"ipckit: connection #{connection.Id} refused: {info}");
            }

            return;
        }

        (long count, long bytes, string hash) = stats.Read();
        if (asJson)
        {
            CliOptions.WriteJson(new
            {
                @event = "client",
                id = connection.Id,
                pid = connection.PeerProcessId,
                reason = info.Reason.ToString(),
                count,
                bytes,
                fnv1a64 = hash,
            });
        }
        else
        {
            Console.Out.WriteLine(
                $"client {connection.Id} pid={connection.PeerProcessId?.ToString(CultureInfo.InvariantCulture) ?? "?"} reason={info.Reason} count={count} bytes={bytes} fnv1a64={hash}");
        }

        if (!info.IsOrderly)
        {
            Console.Error.WriteLine($"ipckit: connection #{connection.Id} ended: {info}");
        }
    }

    private static Command SendVerb()
    {
        Argument<string> name = CliOptions.Name("pipe");
        Option<int> count = CliOptions.Count("How many one-way messages to send.", 1);
        Option<int> size = Size();
        Option<int> timeout = ConnectTimeout();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command(
            "send",
            "Send raw one-way messages with the deterministic payload; print count, bytes, FNV-1a-64 and the rate once the server has taken all of them.")
        {
            name, count, size, timeout, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int messages = parse.GetValue(count);
            byte[] payload = new byte[parse.GetValue(size)];
            var hash = new Fnv1a64();
            await using PipeClient client = await PipeClient.ConnectAsync(
                parse.GetValue(name)!, timeout: CliOptions.ToTimeout(parse.GetValue(timeout)), cancellationToken: cancellationToken);
            PipeConnection connection = client.Connection;
            var clock = Stopwatch.StartNew();
            using var progress = Progress.Start("sent", messages);
            for (int n = 0; n < messages; n++)
            {
                progress.Set(n);
                Payload.Fill(payload, n);
                hash.Append(payload);

                // The payload is copied once SendRawAsync completes; only then is the buffer refilled. It waits without
                // limit: the server consumes the messages at its own pace (flow control), and a server that dies ends it.
                ValueTask send = connection.SendRawAsync(payload, timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancellationToken);
                if (!send.IsCompletedSuccessfully)
                {
                    await send;
                }
            }

            progress.Set(messages);
            await Barrier(connection, cancellationToken);
            clock.Stop();
            progress.Dispose();
            Report("sent", messages, (long)messages * payload.Length, hash, clock.Elapsed, parse.GetValue(json), latencies: null);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Frames are handled in order per connection, so the answer to a request sent after the messages proves the server
    /// has taken every one of them. Without --echo the answer is a "no handler" error, which proves it just as well.
    /// </summary>
    private static async Task Barrier(PipeConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.RequestRawAsync(ReadOnlyMemory<byte>.Empty, timeout: Timeout.InfiniteTimeSpan, cancellationToken: cancellationToken);
        }
        catch (PipeRemoteException)
        {
        }
    }

    private static Command CallVerb()
    {
        Argument<string> name = CliOptions.Name("pipe");
        Option<int> count = CliOptions.Count("How many requests to send.", 1);
        Option<int> size = Size();
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Requests in flight at once.",
            DefaultValueFactory = _ => 1,
            Validators = { result => CliOptions.RejectBelow(result, 1) },
        };
        var poolCompletions = new Option<bool>("--pool-completions")
        {
            Description = "Resume after each answer on the thread pool instead of the connection's receive loop (PipeChannelOptions.InlineCompletions = false): one thread wake-up more per request.",
        };
        Option<PipeReceiveMode> receiveMode = ReceiveMode();
        Option<int> timeout = ConnectTimeout();
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command(
            "call",
            "Send raw requests to an echo server ('ipckit pipe serve --echo'), check every answer, and print latency percentiles.")
        {
            name, count, size, concurrency, poolCompletions, receiveMode, timeout, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int requests = parse.GetValue(count);
            int payloadSize = parse.GetValue(size);
            var options = new PipeClientOptions { InlineCompletions = !parse.GetValue(poolCompletions), ReceiveMode = parse.GetValue(receiveMode) };
            await using PipeClient client = await PipeClient.ConnectAsync(
                parse.GetValue(name)!, options, CliOptions.ToTimeout(parse.GetValue(timeout)), cancellationToken);
            PipeConnection connection = client.Connection;
            long[] latencies = new long[requests];
            int next = -1;
            var clock = Stopwatch.StartNew();
            using var progress = Progress.Start("called", requests);
            Task[] workers = new Task[Math.Min(parse.GetValue(concurrency), requests)];
            for (int w = 0; w < workers.Length; w++)
            {
                workers[w] = Task.Run(
                    async () =>
                    {
                        byte[] payload = new byte[payloadSize];
                        int n;
                        while ((n = Interlocked.Increment(ref next)) < requests)
                        {
                            progress.Set(n);
                            Payload.Fill(payload, n);
                            long start = Stopwatch.GetTimestamp();
                            IpcMessage answer = await connection.RequestRawAsync(payload, cancellationToken: cancellationToken);
                            latencies[n] = Stopwatch.GetTimestamp() - start;
                            if (!answer.Body.Span.SequenceEqual(payload))
                            {
                                throw new IpcProtocolException($"The answer to request {n} differs from its body: the server is not an echo server.");
                            }
                        }
                    },
                    cancellationToken);
            }

            await Task.WhenAll(workers);
            clock.Stop();
            progress.Dispose();

            // The hash covers the payloads in message order, so it equals what 'send' prints for the same count and size.
            var hash = new Fnv1a64();
            byte[] expected = new byte[payloadSize];
            for (int n = 0; n < requests; n++)
            {
                Payload.Fill(expected, n);
                hash.Append(expected);
            }

            Report("called", requests, (long)requests * payloadSize, hash, clock.Elapsed, parse.GetValue(json), latencies);
            return 0;
        });
        return command;
    }

    private static Command InfoVerb()
    {
        Argument<string> name = CliOptions.Name("pipe");
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("info", "Show the socket path (the pipe path on Windows) and whether a server listens on it now.") { name, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string pipeName = parse.GetValue(name)!;
            string path = IpcName.GetPipePath(pipeName);
            bool listening = await PipeServer.IsListeningAsync(pipeName, cancellationToken);
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(new { name = pipeName, path, listening, maxNameLength = IpcName.MaxPipeNameLength });
            }
            else
            {
                Console.Out.WriteLine($"name:      {pipeName}");
                Console.Out.WriteLine($"path:      {path}");
                Console.Out.WriteLine($"listening: {(listening ? "yes" : "no")}");
            }

            return 0;
        });
        return command;
    }

    private static void Report(string verb, long count, long bytes, Fnv1a64 hash, TimeSpan elapsed, bool asJson, long[]? latencies) =>
        IpcKit.Cli.Summary.Write(verb, count, bytes, hash, elapsed, asJson, latency: latencies is null || latencies.Length == 0 ? null : LatencyPercentiles.FromTicks(latencies));

    /// <summary>Count, bytes and FNV-1a-64 of what one client (or all of them, in arrival order) sent.</summary>
    private sealed class Summary
    {
        private readonly Lock _gate = new();
        private long _count;
        private long _bytes;
        private Fnv1a64 _hash;

        /// <summary>The server-wide summary this client's messages also go to.</summary>
        internal Summary? Total { get; init; }

        internal void Add(ReadOnlySpan<byte> body)
        {
            lock (_gate)
            {
                _count++;
                _bytes += body.Length;
                _hash.Append(body);
            }
        }

        internal (long Count, long Bytes, string Hash) Read()
        {
            lock (_gate)
            {
                return (_count, _bytes, _hash.ToString());
            }
        }
    }
}
