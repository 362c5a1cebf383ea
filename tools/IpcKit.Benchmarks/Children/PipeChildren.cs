using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using HdrHistogram;
using IpcKit.Benchmarks.Harness;
using IpcKit.Contracts;
using IpcKit.Pipes;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// The IpcKit pipe channel's measured parties: a server, and clients that send one-way messages or requests. They use
/// the channel the way a throughput-minded user would: raw one-way messages handled in place on the receive loop
/// (<see cref="PipePeer.HandleRawMessage"/>), sends awaited only when they did not complete at once, requests on the
/// client's <see cref="PipeClient.Connection"/> (what <c>ipckit pipe send/call</c> do). Every party uses the channel's
/// default options unless a mode says otherwise ("pool": reads on the thread pool and completions on the pool, the
/// defaults before dedicated receive threads and safe inline completions).
/// </summary>
internal static class PipeChildren
{
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromMinutes(1);

    /// <summary>
    /// pipe-server NAME MODE COUNT WARMUP CLIENTS: MODE "raw" or "typed" counts one-way messages (raw bytes, or the
    /// MessagePack <see cref="Toy"/>); "echo" answers raw requests with their own body (every mode answers them, the
    /// senders' closing barrier); "echo-pool" does so reading on the thread pool. The window runs from the first item after WARMUP to the COUNT-th after it. The server
    /// serves until CLIENTS connections have come and gone, disposes (which removes its socket), then reports.
    /// </summary>
    internal static void Server(string[] args) =>
        ServerAsync(args[0], args[1], Long(args[2]), Long(args[3]), (int)Long(args[4])).GetAwaiter().GetResult();

    /// <summary>
    /// pipe-sender NAME MODE COUNT SIZE WARMUP: after GO, sends WARMUP then COUNT one-way messages (MODE "raw": SIZE
    /// bytes; "typed": a <see cref="Toy"/>), then one request as a barrier: its answer proves the server took them all.
    /// </summary>
    internal static void Sender(string[] args) =>
        SenderAsync(args[0], args[1], Long(args[2]), (int)Long(args[3]), Long(args[4])).GetAwaiter().GetResult();

    /// <summary>
    /// pipe-caller NAME COUNT SIZE WARMUP CONCURRENCY CLIENTS INLINE: opens CLIENTS connections; after GO each sends
    /// WARMUP unmeasured, then COUNT measured raw requests of SIZE bytes, CONCURRENCY at a time, checking every echo.
    /// COMPLETIONS "default" keeps the default options; "pool" reads on the thread pool and resumes callers there. Failed
    /// requests are counted, not fatal.
    /// </summary>
    internal static void Caller(string[] args) =>
        CallerAsync(args[0], Long(args[1]), (int)Long(args[2]), Long(args[3]), (int)Long(args[4]), (int)Long(args[5]), args[6])
            .GetAwaiter().GetResult();

    /// <summary>
    /// pipe-paced-caller NAME COUNT SIZE RATE: after GO, starts a raw request every 1/RATE s without waiting for
    /// answers and records each round trip from the moment the request was sent. The loop is open: a slow answer never
    /// delays later requests (no coordinated omission: a stall of the channel shows in every request it held up), and
    /// requests that fell due while the pacer slept go out at once, so the rate holds. A tenth of COUNT (at most
    /// 20,000) goes first, unmeasured.
    /// </summary>
    internal static void PacedCaller(string[] args) =>
        PacedCallerAsync(args[0], Long(args[1]), (int)Long(args[2]), double.Parse(args[3], CultureInfo.InvariantCulture)).GetAwaiter().GetResult();

    private static async Task ServerAsync(string name, string mode, long count, long warmup, int clients)
    {
        var meter = new Meter(count, warmup);
        var gone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int closed = 0;
        long expectedSequence = -warmup;
        bool pool = mode == "echo-pool";
        if (pool)
        {
            mode = "echo";
        }

        var server = new PipeServer(name, pool ? new PipeServerOptions { ReceiveMode = PipeReceiveMode.ThreadPool, InlineCompletions = false } : null);
        try
        {
            server.HandleRawRequest((request, _, _) =>
            {
                if (mode == "echo")
                {
                    lock (meter)
                    {
                        meter.Count(request.Body.Length);
                    }
                }

                return ValueTask.FromResult(request);
            });
            if (mode == "typed")
            {
                server.HandleMessage<Toy>((toy, _, _) =>
                {
                    // One sender, one connection: messages arrive in order, one at a time.
                    if (toy.Sequence != expectedSequence++)
                    {
                        meter.Error($"toy {toy.Sequence} arrived where {expectedSequence - 1} was due");
                    }

                    meter.Count(0);
                    return ValueTask.CompletedTask;
                });
            }
            else if (mode == "raw")
            {
                server.HandleRawMessage((message, _, _) =>
                {
                    meter.Count(message.Body.Length);
                    return ValueTask.CompletedTask;
                });
            }

            server.HandlerFailed += (_, e) => meter.Error($"handler failed: {e.Exception.Message}");
            server.ConnectionClosed += (_, e) =>
            {
                PipeCloseInfo info = e.Connection.CloseInfo!;
                if (!info.IsOrderly)
                {
                    meter.Error($"connection {e.Connection.Id} ended: {info}");
                }

                if (Interlocked.Increment(ref closed) == clients)
                {
                    gone.TrySetResult();
                }
            };
            server.Start();
            Child.Ready();
            await gone.Task;
        }
        finally
        {
            // Disposing removes the socket and lock files; only then may the harness see the result (and end the process).
            await server.DisposeAsync();
        }

        ChildResult result;
        lock (meter)
        {
            result = meter.Result();
        }

        result.Print();
    }

    private static async Task SenderAsync(string name, string mode, long count, int size, long warmup)
    {
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: s_connectTimeout);
        PipeConnection connection = client.Connection;
        byte[] payload = new byte[size];
        var toy = new Toy { Name = "kite", Sender = "producer", SentAtUtc = DateTime.UtcNow };
        bool typed = mode == "typed";
        Child.Ready();
        Child.WaitForGo();
        Window? window = null;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window(wholeProcess: true);
            }

            ValueTask send;
            if (typed)
            {
                toy.Sequence = n;
                send = connection.SendAsync(toy);
            }
            else
            {
                send = connection.SendRawAsync(payload);
            }

            if (!send.IsCompletedSuccessfully)
            {
                await send;
            }
        }

        // Frames are handled in order: the answer to this request means the server has taken every message.
        await connection.RequestRawAsync(ReadOnlyMemory<byte>.Empty, timeout: Timeout.InfiniteTimeSpan);
        ChildResult result = window!.Finish(count, typed ? 0 : count * size);
        await client.DisposeAsync();
        result.Print();
    }

    private static async Task CallerAsync(string name, long count, int size, long warmup, int concurrency, int clients, string completions)
    {
        PipeClientOptions? options = completions == "pool"
            ? new PipeClientOptions { ReceiveMode = PipeReceiveMode.ThreadPool, InlineCompletions = false }
            : null;
        var connected = new List<PipeClient>(clients);
        try
        {
            for (int c = 0; c < clients; c++)
            {
                connected.Add(await PipeClient.ConnectAsync(name, options, s_connectTimeout));
            }

            PipeConnection[] connections = [.. connected.Select(client => client.Connection)];
            Child.Ready();
            Child.WaitForGo();
            var errors = new ErrorCount();
            await RunCallsAsync(connections, warmup, size, concurrency, histograms: null, errors);
            LongHistogram[] histograms = [.. Enumerable.Range(0, clients * concurrency).Select(_ => Histograms.Create())];
            var window = new Window(wholeProcess: true);
            await RunCallsAsync(connections, count, size, concurrency, histograms, errors);
            LongHistogram all = Histograms.Create();
            foreach (LongHistogram histogram in histograms)
            {
                all.Add(histogram);
            }

            ChildResult result = window.Finish(count * clients, count * clients * size, errors.Value, all);
            await DisposeAllAsync(connected);
            result.Print();
        }
        finally
        {
            await DisposeAllAsync(connected);
        }
    }

    /// <summary>
    /// Closes every client at once, as independent clients would. One by one, the last of 64 would sit idle through the
    /// others' closing handshakes, exchanging heartbeats with the server all the while.
    /// </summary>
    private static Task DisposeAllAsync(List<PipeClient> clients) =>
        Task.WhenAll(clients.Select(client => client.DisposeAsync().AsTask()));

    /// <summary>Each connection carries <paramref name="count"/> requests from <paramref name="concurrency"/> workers sharing its counter.</summary>
    private static Task RunCallsAsync(PipeConnection[] connections, long count, int size, int concurrency, LongHistogram[]? histograms, ErrorCount errors)
    {
        var workers = new List<Task>(connections.Length * concurrency);
        for (int c = 0; c < connections.Length; c++)
        {
            PipeConnection connection = connections[c];
            var next = new StrongBox<long>(-1);
            for (int w = 0; w < concurrency; w++)
            {
                LongHistogram? histogram = histograms?[(c * concurrency) + w];
                workers.Add(Task.Run(() => CallAsync(connection, next, count, size, histogram, errors)));
            }
        }

        return Task.WhenAll(workers);
    }

    private static async Task CallAsync(PipeConnection connection, StrongBox<long> next, long count, int size, LongHistogram? histogram, ErrorCount errors)
    {
        byte[] payload = new byte[size];
        long n;
        while ((n = Interlocked.Increment(ref next.Value)) < count)
        {
            Payloads.Fill(payload, n);
            long start = Stopwatch.GetTimestamp();
            try
            {
                IpcMessage answer = await connection.RequestRawAsync(payload);
                if (!answer.Body.Span.SequenceEqual(payload))
                {
                    errors.Add($"the answer to request {n} differs from the request");
                }
            }
            catch (Exception exception)
            {
                // Counted and reported, never fatal: a benchmark that hides failed requests would flatter the transport.
                errors.Add($"request {n}: {exception.GetType().Name}: {exception.Message}");
            }

            if (histogram is not null)
            {
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
            }
        }
    }

    private static async Task PacedCallerAsync(string name, long count, int size, double rate)
    {
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: s_connectTimeout);
        PipeConnection connection = client.Connection;
        byte[] payload = new byte[size];
        Payloads.Fill(payload, 7);
        long warmup = RunSettings.Warmup(count);
        LongHistogram histogram = Histograms.Create();
        var errors = new ErrorCount();
        var answers = new List<Task>((int)(count + warmup));
        Child.Ready();
        Child.WaitForGo();
        Window? window = null;
        long start = Stopwatch.GetTimestamp();
        double ticksPerRequest = Stopwatch.Frequency / rate;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window(wholeProcess: true);
            }

            Pacing.WaitUntil(start + (long)((n + warmup) * ticksPerRequest));
            long sent = Stopwatch.GetTimestamp();
            answers.Add(TrackAsync(connection.RequestRawAsync(payload).AsTask(), payload, sent, n >= 0 ? histogram : null, errors));
        }

        await Task.WhenAll(answers);
        ChildResult result = window!.Finish(count, count * size, errors.Value, histogram);
        await client.DisposeAsync();
        result.Print();
    }

    private static async Task TrackAsync(Task<IpcMessage> request, byte[] payload, long sent, LongHistogram? histogram, ErrorCount errors)
    {
        try
        {
            IpcMessage answer = await request;
            if (!answer.Body.Span.SequenceEqual(payload))
            {
                errors.Add("an answer differs from its request");
            }
        }
        catch (Exception exception)
        {
            errors.Add($"{exception.GetType().Name}: {exception.Message}");
        }

        if (histogram is not null)
        {
            long now = Stopwatch.GetTimestamp();
            lock (histogram)
            {
                Histograms.Record(histogram, now - sent);
            }
        }
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    /// <summary>Counts a server's items: a window from the first one after the warm-up to the last measured one.</summary>
    private sealed class Meter(long count, long warmup)
    {
        private readonly ErrorCount _errors = new();
        private long _seen;
        private long _bytes;
        private Window? _window;
        private ChildResult? _result;

        /// <summary>One more item; not thread-safe (callers on several connections lock the meter).</summary>
        public void Count(long bytes)
        {
            long n = ++_seen - warmup;
            if (n <= 0)
            {
                return;
            }

            if (n == 1)
            {
                _window = new Window(wholeProcess: true);
            }

            _bytes += bytes;
            if (n == count)
            {
                _result = _window!.Finish(count, _bytes);
            }
        }

        public void Error(string message) => _errors.Add(message);

        /// <summary>The result; a server whose clients left before it saw every item reports that as an error.</summary>
        public ChildResult Result()
        {
            if (_result is null)
            {
                Error($"the clients left after {_seen} of {warmup + count} items");
                return (_window ?? new Window(wholeProcess: true)).Finish(Math.Max(0, _seen - warmup), _bytes, _errors.Value);
            }

            return _result with { Errors = _errors.Value };
        }
    }
}
