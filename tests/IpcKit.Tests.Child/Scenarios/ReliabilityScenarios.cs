using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Pipes;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Child;

/// <summary>
/// The processes of the chaos and soak tests (tests/IpcKit.Tests/Reliability). Chaos processes record every effect
/// durably (one write(2) per record, so a SIGKILL loses nothing that was recorded) for the test to check afterwards;
/// soak processes answer "stats" on stdin with their counters and resource use.
/// </summary>
internal static class ReliabilityScenarios
{
    /// <summary>A producer log record: the sequence number of a message whose write returned true.</summary>
    internal const int ProducerRecordSize = 8;

    /// <summary>A consumer log record: ring position, producer incarnation, sequence number.</summary>
    internal const int ConsumerRecordSize = 24;

    private static readonly TimeSpan s_slice = TimeSpan.FromMilliseconds(200);

    // Liveness verdicts are not what the soak measures (Pipes/PipeLivenessTests tests them): a long peer timeout keeps
    // a machine loaded by other work (one run saw a load average of 59 on 2 cores) from closing a healthy connection
    // as unresponsive, which would end the soak on a scheduling stall rather than on a leak. A dead peer is still
    // noticed at once: the kernel closes its socket.
    private static readonly TimeSpan s_soakPeerTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan s_soakHeartbeat = TimeSpan.FromSeconds(1);

    /// <summary>The chaos payload of (incarnation, sequence): both numbers, then bytes derived from them; 16 to 1040 bytes.</summary>
    internal static int FillChaos(Span<byte> buffer, int incarnation, long sequence)
    {
        int length = 16 + (int)(sequence * 37 % 1025);
        Span<byte> payload = buffer[..length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, incarnation);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], sequence);
        for (int i = 16; i < length; i++)
        {
            payload[i] = unchecked((byte)(sequence * 31 + incarnation * 7 + i));
        }

        return length;
    }

    /// <summary>The (incarnation, sequence) of a chaos payload, or null if any byte differs from what <see cref="FillChaos"/> writes.</summary>
    internal static (int Incarnation, long Sequence)? CheckChaos(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 16)
        {
            return null;
        }

        int incarnation = BinaryPrimitives.ReadInt32LittleEndian(payload);
        long sequence = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        if (sequence < 0 || payload.Length != 16 + (int)(sequence * 37 % 1025))
        {
            return null;
        }

        for (int i = 16; i < payload.Length; i++)
        {
            if (payload[i] != unchecked((byte)(sequence * 31 + incarnation * 7 + i)))
            {
                return null;
            }
        }

        return (incarnation, sequence);
    }

    /// <summary>Reads the complete fixed-size records of a log; a record cut short by a kill is ignored.</summary>
    internal static List<byte[]> ReadLog(string path, int recordSize)
    {
        var records = new List<byte[]>();
        if (!File.Exists(path))
        {
            return records;
        }

        byte[] bytes = File.ReadAllBytes(path);
        for (int offset = 0; offset + recordSize <= bytes.Length; offset += recordSize)
        {
            records.Add(bytes[offset..(offset + recordSize)]);
        }

        return records;
    }

    /// <summary>
    /// chaos-m2o-producer RING LOGDIR ID [hold:N]: attaches as one of the writers of a many-to-one ring and writes chaos payloads
    /// of producer ID with sequence numbers from 0, a third of them through Claim/Commit. After each write that returned
    /// it appends the sequence number to LOGDIR/m2o-ID.log (one write(2)). Stops on "stop" or end of stdin: detaches, exits 0.
    /// With hold:N, after N messages it claims room for one more, fills it, prints CLAIMED and waits to be killed.
    /// </summary>
    [Scenario("chaos-m2o-producer")]
    internal static Task<int> ChaosManyToOneProducerAsync(string[] args)
    {
        int id = int.Parse(args[2], CultureInfo.InvariantCulture);
        using RingWriter writer = AttachWithRetry(() => RingWriter.Attach(args[0]));
        using var log = new FileStream(Path.Combine(args[1], $"m2o-{id}.log"), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        Task stop = StopRequestedAsync();
        Scenarios.Ready();
        byte[] buffer = new byte[2048];
        byte[] record = new byte[ProducerRecordSize];
        long hold = args.Length > 3 && args[3].StartsWith("hold:", StringComparison.Ordinal) ? long.Parse(args[3][5..], CultureInfo.InvariantCulture) : -1;
        for (long next = 0; !stop.IsCompleted;)
        {
            if (next == hold)
            {
                RingClaim held = writer.Claim(16 + (int)(next * 37 % 1025), Timeout.InfiniteTimeSpan);
                FillChaos(held.Span, id, next);
                Console.Out.WriteLine("CLAIMED");
                stop.Wait();
                return Task.FromResult(1);
            }

            bool committed;
            try
            {
                if (next % 3 == 0)
                {
                    RingClaim claim = writer.Claim(16 + (int)(next * 37 % 1025), s_slice);
                    FillChaos(claim.Span, id, next);
                    claim.Commit();
                    committed = true;
                }
                else
                {
                    int length = FillChaos(buffer, id, next);
                    committed = writer.TrySendRaw(buffer.AsSpan(0, length), timeout: s_slice);
                }
            }
            catch (TimeoutException)
            {
                continue;
            }

            if (committed)
            {
                BinaryPrimitives.WriteInt64LittleEndian(record, next);
                log.Write(record);
                next++;
            }
        }

        return Task.FromResult(0);
    }

    /// <summary>
    /// chaos-ring-producer RING LOGDIR INCARNATION: attaches as writer and writes chaos payloads with sequence numbers
    /// continuing after the highest one any earlier incarnation logged. After each write that returned true (Write, or
    /// a committed claim) it appends the sequence number to LOGDIR/producer-INCARNATION.log. Stops on "stop" or end of
    /// stdin: prints "STOPPED last", detaches, exits 0.
    /// </summary>
    [Scenario("chaos-ring-producer")]
    internal static Task<int> ChaosRingProducerAsync(string[] args)
    {
        string folder = args[1];
        int incarnation = int.Parse(args[2], CultureInfo.InvariantCulture);
        long next = Directory.EnumerateFiles(folder, "producer-*.log")
            .SelectMany(path => ReadLog(path, ProducerRecordSize))
            .Select(record => BinaryPrimitives.ReadInt64LittleEndian(record) + 1)
            .DefaultIfEmpty(0)
            .Max();
        using RingWriter writer = AttachWithRetry(() => RingWriter.Attach(args[0]));
        using var log = new FileStream(Path.Combine(folder, $"producer-{incarnation}.log"), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        Task stop = StopRequestedAsync();
        Scenarios.Ready(next.ToString(CultureInfo.InvariantCulture));
        byte[] buffer = new byte[2048];
        byte[] record = new byte[ProducerRecordSize];
        while (!stop.IsCompleted)
        {
            bool committed;
            try
            {
                if (next % 3 == 0)
                {
                    // The in-place path: claim, fill, commit. A kill before Commit leaves nothing a reader can see.
                    RingClaim claim = writer.Claim(16 + (int)(next * 37 % 1025), s_slice);
                    FillChaos(claim.Span, incarnation, next);
                    claim.Commit();
                    committed = true;
                }
                else
                {
                    int length = FillChaos(buffer, incarnation, next);
                    committed = writer.TrySendRaw(buffer.AsSpan(0, length), timeout: s_slice);
                }
            }
            catch (IpcPeerGoneException exception)
            {
                // The reader died while the ring was full: reported once; the next write waits for a new reader.
                Console.Out.WriteLine($"READER-GONE {exception.Reason}");
                continue;
            }
            catch (TimeoutException)
            {
                // No room for a claim within the slice: not committed, try again.
                continue;
            }

            if (committed)
            {
                // Reported committed only now, after the write returned: one write(2), which a SIGKILL cannot tear.
                BinaryPrimitives.WriteInt64LittleEndian(record, next);
                log.Write(record);
                next++;
            }
        }

        Console.Out.WriteLine($"STOPPED {next - 1}");
        return Task.FromResult(0);
    }

    /// <summary>
    /// chaos-ring-consumer RING LOGDIR: attaches as reader and processes every message exactly once: it skips records at
    /// or below the last position in LOGDIR/consumer.log (delivered again after a kill before the batch ended), and
    /// records each processed message as (position, incarnation, sequence) in one write. Prints "SKIP position" per
    /// skipped record and "WRITER-GONE reason" when the writer dies; exits 0 with "DONE count" once the writer
    /// detached in an orderly way and everything was read, 4 on a payload that is not what the producer wrote.
    /// </summary>
    [Scenario("chaos-ring-consumer")]
    internal static Task<int> ChaosRingConsumerAsync(string[] args)
    {
        string path = Path.Combine(args[1], "consumer.log");
        List<byte[]> done = ReadLog(path, ConsumerRecordSize);
        long last = done.Count == 0 ? -1 : BinaryPrimitives.ReadInt64LittleEndian(done[^1]);
        using RingReader reader = AttachWithRetry(() => RingReader.Attach(args[0]));

        // Cut a record a kill left half-written, so the records that follow stay aligned.
        using var log = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
        log.SetLength((long)done.Count * ConsumerRecordSize);
        log.Seek(0, SeekOrigin.End);
        Scenarios.Ready();
        byte[] record = new byte[ConsumerRecordSize];
        long processed = 0;
        var random = new Random();
        while (true)
        {
            try
            {
                if (!reader.WaitForData(s_slice))
                {
                    continue;
                }
            }
            catch (IpcPeerGoneException exception) when (exception.Reason == IpcCloseReason.PeerClosed)
            {
                Console.Out.WriteLine($"DONE {processed}");
                return Task.FromResult(0);
            }
            catch (IpcPeerGoneException exception)
            {
                Console.Out.WriteLine($"WRITER-GONE {exception.Reason}");
                continue;
            }

            // Batches of random size, so kills land before, inside and after the publish of the read position.
            using RingBatch batch = reader.ReadBatch(1 + random.Next(64));
            foreach (RingRecord message in batch)
            {
                if (message.Position <= last)
                {
                    Console.Out.WriteLine($"SKIP {message.Position}");
                    continue;
                }

                if (CheckChaos(message.Body) is not (int incarnation, long sequence))
                {
                    Console.Error.WriteLine($"the message at position {message.Position} ({message.Body.Length} bytes) is not what the producer wrote");
                    return Task.FromResult(4);
                }

                // The processing this consumer stands for: some work per message, so that it is the slower side, the
                // ring stays full, and kills land in the middle of batches (where redelivery happens) more often.
                var hash = default(Fnv1a64);
                for (int i = 0; i < 16; i++)
                {
                    hash.Append(message.Body);
                }

                GC.KeepAlive(hash.Value);
                BinaryPrimitives.WriteInt64LittleEndian(record, message.Position);
                BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(8), incarnation);
                BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(16), sequence);
                log.Write(record);
                last = message.Position;
                processed++;
            }
        }
    }

    /// <summary>
    /// chaos-pipe-client PIPE: connects and, until killed, keeps requests in flight: echo requests it checks, a
    /// "wait:forever" request that stays pending, one-way raw messages. Prints READY once connected.
    /// </summary>
    [Scenario("chaos-pipe-client")]
    internal static async Task<int> ChaosPipeClientAsync(string[] args)
    {
        await using PipeClient client = await PipeClient.ConnectAsync(args[0], timeout: TimeSpan.FromSeconds(30));
        Task<TextMessage> pending = client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "wait:forever" }, Timeout.InfiniteTimeSpan).AsTask();
        Scenarios.Ready(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        byte[] body = new byte[256];
        for (long i = 0; ; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(body, i);
            await client.SendRawAsync(body);
            IpcMessage echo = await client.RequestRawAsync(body, timeout: TimeSpan.FromSeconds(30));
            if (!echo.Body.Span.SequenceEqual(body))
            {
                return 4;
            }

            if (pending.IsCompleted)
            {
                await pending;
            }
        }
    }

    /// <summary>
    /// soak-ring-writer RING: writes sequence-numbered messages of varying size as fast as the reader takes them, until
    /// "stop"; answers "stats" on stdin with <see cref="PrintStats"/>.
    /// </summary>
    [Scenario("soak-ring-writer")]
    internal static async Task<int> SoakRingWriterAsync(string[] args)
    {
        using RingWriter writer = RingWriter.Attach(args[0]);
        var counters = new Counters();
        Task stop = StatsLoopAsync(counters);
        Scenarios.Ready();
        byte[] payload = new byte[4096];
        long sequence = 0;
        while (!stop.IsCompleted)
        {
            int size = 8 + (int)(sequence * 97 % 2000);
            RingScenarios.Fill(payload.AsSpan(0, size), sequence);
            try
            {
                if (writer.TrySendRaw(payload.AsSpan(0, size), timeout: s_slice))
                {
                    sequence++;
                    Counters.Add(ref counters.Messages, 1);
                    Counters.Add(ref counters.Bytes, size);
                }
            }
            catch (IpcPeerGoneException)
            {
                // The reader detached (it reattaches on purpose); the next write waits for it.
                await Task.Yield();
            }
        }

        Console.Out.WriteLine($"STOPPED {sequence}");
        return 0;
    }

    /// <summary>
    /// soak-ring-reader RING: reads and checks every message (sequence order, content), detaching and attaching again
    /// every 2 seconds; answers "stats"; exits 4 on a wrong message, 0 on "stop".
    /// </summary>
    [Scenario("soak-ring-reader")]
    internal static async Task<int> SoakRingReaderAsync(string[] args)
    {
        var counters = new Counters();
        Task stop = StatsLoopAsync(counters);
        Scenarios.Ready();
        long expected = 0;
        while (!stop.IsCompleted)
        {
            using RingReader reader = RingReader.Attach(args[0]);
            Counters.Add(ref counters.Connects, 1);
            var attached = Stopwatch.StartNew();
            while (!stop.IsCompleted && attached.Elapsed < TimeSpan.FromSeconds(2))
            {
                try
                {
                    if (!await reader.WaitForDataAsync(s_slice))
                    {
                        continue;
                    }
                }
                catch (IpcPeerGoneException gone) when (gone.Reason == IpcCloseReason.PeerClosed)
                {
                    // The writer detaches only once told to stop, and "stop" reaches this process a moment later
                    // (found by the 10-minute soak). A writer that died is still a failure.
                    await stop;
                    break;
                }

                using RingBatch batch = reader.ReadBatch(256);
                foreach (RingRecord record in batch)
                {
                    long sequence = RingScenarios.Check(record.Body);
                    if (sequence != expected)
                    {
                        Console.Error.WriteLine($"expected message {expected}, got {sequence} ({record.Body.Length} bytes)");
                        return 4;
                    }

                    expected++;
                    Counters.Add(ref counters.Messages, 1);
                    Counters.Add(ref counters.Bytes, record.Body.Length);
                }
            }
        }

        Console.Out.WriteLine($"STOPPED {expected}");
        return 0;
    }

    /// <summary>soak-pipe-server PIPE: the test service (<see cref="PipeScenarios.ConfigureTestService"/>); answers "stats" (connections open, opened, closed).</summary>
    [Scenario("soak-pipe-server")]
    internal static async Task<int> SoakPipeServerAsync(string[] args)
    {
        var counters = new Counters();
        await using var server = new PipeServer(args[0], new PipeServerOptions { PeerTimeout = s_soakPeerTimeout, HeartbeatInterval = s_soakHeartbeat });
        PipeScenarios.ConfigureTestService(server);
        server.ConnectionOpened += (_, _) => Counters.Add(ref counters.Connects, 1);
        server.ConnectionClosed += (_, e) =>
        {
            if (e.Connection.CloseInfo?.Reason is not (IpcCloseReason.PeerClosed or IpcCloseReason.Local))
            {
                Counters.Add(ref counters.Errors, 1);
                Console.Out.WriteLine($"UNEXPECTED-CLOSE {e.Connection.CloseInfo?.Reason} {e.Connection.CloseInfo?.Exception.Message}");
            }
        };
        server.Start();
        Task stop = StatsLoopAsync(counters, () => $"open={server.Connections.Count}");
        Scenarios.Ready(server.Path);
        await stop;
        await server.DisposeAsync();
        Console.Out.WriteLine("STOPPED");
        return 0;
    }

    /// <summary>
    /// soak-pipe-client PIPE: until "stop", connects, runs a burst of 0.1 to 0.6 s (echo requests and sums it checks,
    /// one-way raw messages, then a "stats" request proving the server counted every message of this connection), and
    /// disconnects. Answers "stats"; exits 4 on a wrong answer.
    /// </summary>
    [Scenario("soak-pipe-client")]
    internal static async Task<int> SoakPipeClientAsync(string[] args)
    {
        var counters = new Counters();
        Task stop = StatsLoopAsync(counters);
        Scenarios.Ready();
        var random = new Random();
        byte[] body = new byte[512];
        var options = new PipeClientOptions { PeerTimeout = s_soakPeerTimeout, HeartbeatInterval = s_soakHeartbeat };
        while (!stop.IsCompleted)
        {
            await using PipeClient client = await PipeClient.ConnectAsync(args[0], options, TimeSpan.FromSeconds(30));
            Counters.Add(ref counters.Connects, 1);
            var burst = Stopwatch.StartNew();
            TimeSpan length = TimeSpan.FromMilliseconds(100 + random.Next(500));
            long sent = 0;
            long sentBytes = 0;
            while (burst.Elapsed < length && !stop.IsCompleted)
            {
                int size = 1 + random.Next(body.Length);
                random.NextBytes(body.AsSpan(0, size));
                await client.SendRawAsync(body.AsMemory(0, size));
                sent++;
                sentBytes += size;
                Counters.Add(ref counters.Messages, 1);
                IpcMessage echo = await client.RequestRawAsync(body.AsMemory(0, size), timeout: TimeSpan.FromSeconds(30));
                SumResponse sum = await client.RequestAsync<SumRequest, SumResponse>(new SumRequest { Numbers = [sent, size] }, TimeSpan.FromSeconds(30));
                if (!echo.Body.Span.SequenceEqual(body.AsSpan(0, size)) || sum.Sum != sent + size)
                {
                    Console.Error.WriteLine("a wrong answer");
                    return 4;
                }

                Counters.Add(ref counters.Requests, 2);
                Counters.Add(ref counters.Bytes, size);
            }

            // One-way messages have no acknowledgement: the server's count for this connection proves none was lost.
            TextMessage stats = await client.RequestAsync<TextMessage, TextMessage>(new TextMessage { Message = "stats" }, TimeSpan.FromSeconds(30));
            if (!stats.Message.StartsWith($"count={sent} bytes={sentBytes} ", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"the server counted '{stats.Message}', this client sent count={sent} bytes={sentBytes}");
                return 4;
            }
        }

        Console.Out.WriteLine("STOPPED");
        return 0;
    }

    /// <summary>
    /// One "STATS" line: this process's counters, its managed heap after a full collection, its resident memory and
    /// its open file descriptors, then any extra fields.
    /// </summary>
    private static void PrintStats(Counters counters, string extra)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        int fds = OperatingSystem.IsLinux() ? Directory.GetFiles("/proc/self/fd").Length : -1;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"STATS messages={Volatile.Read(ref counters.Messages)} requests={Volatile.Read(ref counters.Requests)} bytes={Volatile.Read(ref counters.Bytes)} connects={Volatile.Read(ref counters.Connects)} errors={Volatile.Read(ref counters.Errors)} heap={heap} rss={process.WorkingSet64} fds={fds} threads={process.Threads.Count} {extra}"));
        Console.Out.Flush();
    }

    /// <summary>Answers "stats" lines on stdin until "stop" or end of stdin; the task completes then.</summary>
    private static Task StatsLoopAsync(Counters counters, Func<string>? extra = null) => Task.Run(async () =>
    {
        while (await Console.In.ReadLineAsync() is string line && line != "stop")
        {
            if (line == "stats")
            {
                PrintStats(counters, extra?.Invoke() ?? "");
            }
        }
    });

    /// <summary>Completes on "stop" or end of stdin.</summary>
    private static Task StopRequestedAsync() => Task.Run(async () =>
    {
        while (await Console.In.ReadLineAsync() is string line && line != "stop")
        {
        }
    });

    /// <summary>Attaches; a role still held by a killed predecessor the kernel has not yet cleaned up is retried briefly.</summary>
    private static T AttachWithRetry<T>(Func<T> attach)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return attach();
            }
            catch (IpcInUseException) when (watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(10);
            }
        }
    }

    private sealed class Counters
    {
        public long Messages;
        public long Requests;
        public long Bytes;
        public long Connects;
        public long Errors;

        public static void Add(ref long counter, long value) => Interlocked.Add(ref counter, value);
    }
}
