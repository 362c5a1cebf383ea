using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Hosting;
using IpcKit.Pipes;
using IpcKit.SharedMemory;
using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>
/// The consumer: creates the ring, the semaphore and the pipe server, launches the producer as its paired child,
/// shows each part of the exchange, and checks that what arrived is what was sent.
/// </summary>
internal static class Consumer
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        using PosixSignalRegistration? terminate = OperatingSystem.IsWindows()
            ? null
            : PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                cancellation.Cancel();
            });

        Leftovers.Reclaim();
        var pipeSide = new PipeSide($"consumer {Environment.ProcessId}");
        DemoNames names;
        PipeServer server;
        NamedLock light;
        try
        {
            (names, server, light) = DemoNames.Create(pipeSide.Register);
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"demo failed: {exception.GetType().Name}: {exception.Message}");
            return (int)IpcExitCodes.FromException(exception);
        }

        try
        {
            return await RunCoreAsync(names, server, light, pipeSide, cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine("Interrupted: stopping the producer and removing the ring, the lock and the pipe.");
            return (int)IpcExitCode.Error;
        }
        catch (Exception exception)
        {
            Console.Error.WriteLine($"demo failed: {exception.GetType().Name}: {exception.Message}");
            return (int)IpcExitCodes.FromException(exception);
        }
        finally
        {
            await server.DisposeAsync();
            light.Dispose();
            names.RemoveObjects();
            names.Dispose();
        }
    }

    private static async Task<int> RunCoreAsync(DemoNames names, PipeServer server, NamedLock light, PipeSide pipeSide, CancellationToken cancellationToken)
    {
        string me = $"consumer {Environment.ProcessId}";
        int burst = DemoChannels.Burst;
        using RingReader ring = RingReader.Attach(names.Ring);

        Console.Out.WriteLine($"IpcKit demo: {me} starts the producer as its paired child process.");
        Console.Out.WriteLine($"  ring       {names.Ring}  ({IpcName.GetRingPath(names.Ring)})");
        Console.Out.WriteLine($"  lock       {names.Light}  ({light.Path})");
        Console.Out.WriteLine($"  pipe       {names.Pipe}  ({server.Path})");
        await using PairedProcess producer = await StartProducerAsync(names, cancellationToken);
        Console.Out.WriteLine($"  producer   {producer.Id} is ready");

        Console.Out.WriteLine();
        Console.Out.WriteLine("1. Toys over the shared-memory ring (typed MessagePack messages)");
        await server.BroadcastAsync(new TextMessage { Message = DemoChannels.Part(1), From = me, To = "producer" }, cancellationToken: cancellationToken);
        for (int i = 0; i < DemoChannels.Toys; i++)
        {
            Toy toy = await ring.ReceiveAsync<Toy>(s_deadline, cancellationToken);
            double age = (DateTime.UtcNow - toy.SentAtUtc).TotalMilliseconds;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   received toy #{toy.Sequence} '{toy.Name}' from {toy.Sender}, sent {age:F2} ms ago"));
        }

        Console.Out.WriteLine();
        Console.Out.WriteLine($"2. Taking turns on a shared counter file, guarded by the crash-safe named lock '{names.Light}'");
        await server.BroadcastAsync(new TextMessage { Message = DemoChannels.Part(2), From = me, To = "producer" }, cancellationToken: cancellationToken);
        for (int turn = 1; turn <= DemoChannels.Turns; turn++)
        {
            await Producer.TakeTurnAsync(light, names.Counter, me, turn, indent: "   ", cancellationToken);
        }

        await pipeSide.TurnsDone.Task.WaitAsync(s_deadline, cancellationToken);
        int counter = int.Parse(File.ReadAllText(names.Counter), CultureInfo.InvariantCulture);
        bool counterRight = counter == 2 * DemoChannels.Turns;
        Console.Out.WriteLine($"   the counter is {counter} after {2 * DemoChannels.Turns} turns: {(counterRight ? "no update was lost" : "UPDATES WERE LOST")}");
        bool takenOver = await Holder.ShowTakeoverAsync(names, light, me, cancellationToken);

        Console.Out.WriteLine();
        Console.Out.WriteLine("3. Requests over the pipe (the producer asks, the consumer answers)");
        await server.BroadcastAsync(new TextMessage { Message = DemoChannels.Part(3), From = me, To = "producer" }, cancellationToken: cancellationToken);
        await pipeSide.RequestsDone.Task.WaitAsync(s_deadline, cancellationToken);
        string pipeHash = await pipeSide.PipeHash.Task.WaitAsync(s_deadline, cancellationToken);
        bool pipeHashMatches = pipeHash == pipeSide.Burst.Hash.ToString() && pipeSide.Burst.Count == DemoChannels.PipeBurst;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   then {pipeSide.Burst.Count:N0} one-way messages: {pipeSide.BurstRate / 1e6:F2} M msgs/s, hash {(pipeHashMatches ? "matches" : "DOES NOT MATCH")}"));

        Console.Out.WriteLine();
        Console.Out.WriteLine($"4. A burst of {burst:N0} messages of {DemoChannels.BurstPayload} bytes over the ring");
        await server.BroadcastAsync(new TextMessage { Message = DemoChannels.Part(4), From = me, To = "producer" }, cancellationToken: cancellationToken);
        var received = new BurstReceiver();
        var progress = new Progress(burst);
        var watch = Stopwatch.StartNew();
        while (received.Count < burst)
        {
            if (!await ring.WaitForDataAsync(s_deadline, cancellationToken))
            {
                throw new TimeoutException($"The burst stalled after {received.Count:N0} messages.");
            }

            ring.Drain(received, static (r, payload, _) => r.Add(payload), burst - (int)received.Count);
            progress.Report(received.Count, watch.Elapsed);
        }

        watch.Stop();
        progress.Finish(received.Count, watch.Elapsed);
        string sentHash = await pipeSide.BurstHash.Task.WaitAsync(s_deadline, cancellationToken);
        bool hashMatches = sentHash == received.Hash.ToString();
        int producerExit = await producer.WaitForExitAsync(s_deadline, cancellationToken);

        double ringRate = received.Count / watch.Elapsed.TotalSeconds;
        Console.Out.WriteLine();
        Console.Out.WriteLine("Summary");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   ring       {DemoChannels.Toys + received.Count:N0} messages, {received.Bytes:N0} burst bytes, {ringRate / 1e6:F2} M msgs/s in the burst"));
        Console.Out.WriteLine($"              hash {received.Hash} vs producer's {sentHash}: {(hashMatches ? "match" : "MISMATCH")}");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   pipe       {pipeSide.Requests} requests answered, {pipeSide.Burst.Count:N0} one-way messages, {pipeSide.Burst.Bytes:N0} bytes, {pipeSide.BurstRate / 1e6:F2} M msgs/s"));
        Console.Out.WriteLine($"              hash {pipeSide.Burst.Hash} vs producer's {pipeHash}: {(pipeHashMatches ? "match" : "MISMATCH")}");
        Console.Out.WriteLine($"   lock       {2 * DemoChannels.Turns} turns, counter {counter}: {(counterRight ? "match" : "MISMATCH")}; a killed holder's lock {(takenOver ? "was taken over" : "WAS NOT TAKEN OVER")}");
        Console.Out.WriteLine($"   producer   exited with code {producerExit}");
        bool ok = hashMatches && pipeHashMatches && counterRight && takenOver && producerExit == 0 && pipeSide.Requests == DemoChannels.Requests;
        Console.Out.WriteLine(ok ? "Everything that was sent arrived." : "Something did not arrive as sent.");
        return ok ? 0 : (int)IpcExitCode.Corrupted;
    }

    private static Task<PairedProcess> StartProducerAsync(DemoNames names, CancellationToken cancellationToken)
    {
        var options = new PairedProcessOptions
        {
            FileName = typeof(Consumer).Assembly.Location,
            ReadyTimeout = s_deadline,
            OnStandardOutputLine = line => Console.Out.WriteLine($"   [producer] {line}"),
            OnStandardErrorLine = line => Console.Error.WriteLine($"   [producer] {line}"),
        };
        options.Arguments.Add("producer");
        options.Channels[DemoChannels.Ring] = names.Ring;
        options.Channels[DemoChannels.Light] = names.Light;
        options.Channels[DemoChannels.Pipe] = names.Pipe;
        options.Environment[DemoChannels.CounterFile] = names.Counter;
        return PairedProcess.StartAsync(options, cancellationToken);
    }

    /// <summary>The consumer's pipe server: answers sums, and learns from the producer's messages where it is.</summary>
    private sealed class PipeSide(string me)
    {
        private int _requests;
        private int _messages;

        public TaskCompletionSource TurnsDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource RequestsDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<string> BurstHash { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<string> PipeHash { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The one-way pipe burst, counted and hashed in place on the receive loop.</summary>
        public BurstReceiver Burst { get; } = new();

        /// <summary>Messages per second of the pipe burst, first to last message.</summary>
        public double BurstRate => Burst.Count / Math.Max(_burstWatch.Elapsed.TotalSeconds, 1e-9);

        private readonly Stopwatch _burstWatch = new();

        public int Requests => Volatile.Read(ref _requests);

        public int Messages => Volatile.Read(ref _messages);

        public void Register(PipeServer server)
        {
            server.HandleRequest<SumRequest, SumResponse>((request, _, _) =>
            {
                var answer = new SumResponse { Sum = request.Numbers.Sum(), Count = request.Numbers.Length, ProcessId = Environment.ProcessId };
                Console.Out.WriteLine($"   {me} adds {answer.Count} numbers for the producer: {answer.Sum:N0}");
                if (Interlocked.Increment(ref _requests) == DemoChannels.Requests)
                {
                    RequestsDone.TrySetResult();
                }

                return ValueTask.FromResult(answer);
            });
            server.HandleMessage<TextMessage>((message, _, _) =>
            {
                Interlocked.Increment(ref _messages);
                if (message.Message == DemoChannels.TurnsDone)
                {
                    TurnsDone.TrySetResult();
                }
                else if (message.Message.StartsWith(DemoChannels.BurstHashPrefix, StringComparison.Ordinal))
                {
                    BurstHash.TrySetResult(message.Message[DemoChannels.BurstHashPrefix.Length..]);
                }
                else if (message.Message.StartsWith(DemoChannels.PipeHashPrefix, StringComparison.Ordinal))
                {
                    // Messages arrive in order, so the whole burst has been handled by now.
                    _burstWatch.Stop();
                    PipeHash.TrySetResult(message.Message[DemoChannels.PipeHashPrefix.Length..]);
                }

                return ValueTask.CompletedTask;
            });
            server.HandleRawMessage((message, _, _) =>
            {
                if (!_burstWatch.IsRunning && Burst.Count == 0)
                {
                    _burstWatch.Start();
                }

                Burst.Append(message.Body.Span);
                Burst.Count++;
                Burst.Bytes += message.Body.Length;
                return ValueTask.CompletedTask;
            });
        }
    }

    /// <summary>Counts and hashes a burst in place (in ring memory, or in the pipe's receive buffer).</summary>
    private sealed class BurstReceiver
    {
        private Fnv1a64 _hash;

        public long Count { get; set; }

        public long Bytes { get; set; }

        public Fnv1a64 Hash => _hash;

        public void Append(ReadOnlySpan<byte> bytes) => _hash.Append(bytes);

        public void Add(ReadOnlySpan<byte> payload)
        {
            _hash.Append(payload);
            Count++;
            Bytes += payload.Length;
        }
    }

    /// <summary>A progress line: redrawn in place on a terminal, a few plain lines when output is redirected.</summary>
    private sealed class Progress(long total)
    {
        private readonly bool _terminal = !Console.IsOutputRedirected;
        private TimeSpan _last = TimeSpan.FromSeconds(-1);
        private int _quarter;

        public void Report(long count, TimeSpan elapsed)
        {
            if (_terminal && elapsed - _last >= TimeSpan.FromMilliseconds(100))
            {
                _last = elapsed;
                Console.Out.Write(Line(count, elapsed) + "\r");
            }
            else if (!_terminal && count * 4 >= (_quarter + 1) * total && _quarter < 3)
            {
                _quarter++;
                Console.Out.WriteLine(Line(count, elapsed));
            }
        }

        public void Finish(long count, TimeSpan elapsed) => Console.Out.WriteLine(Line(count, elapsed) + "   ");

        private string Line(long count, TimeSpan elapsed) => string.Create(CultureInfo.InvariantCulture,
            $"   received {count:N0} / {total:N0}  ({count / Math.Max(elapsed.TotalSeconds, 1e-6) / 1e6:F2} M msgs/s)");
    }
}
