using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.Benchmarks.Harness;
using IpcKit.Contracts;
using IpcKit.SharedMemory;

namespace IpcKit.Benchmarks.Children;

/// <summary>The ring's measured parties. Each runs in its own process and reports a <see cref="ChildResult"/>.</summary>
internal static class RingChildren
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(2);

    internal static RingEndpointOptions Options(string strategy) => new()
    {
        WaitStrategy = strategy switch
        {
            "busy" => RingWaitStrategy.BusySpin,
            "blocking" => RingWaitStrategy.Blocking,
            _ => RingWaitStrategy.Hybrid,
        },
    };

    /// <summary>The type id of warm-up messages, which readers skip: the measured messages are type 0 (raw) or typed.</summary>
    private const int WarmupTypeId = 1;

    /// <summary>
    /// ring-writer NAME COUNT SIZE STRATEGY MODE WARMUP_MS: waits for GO on stdin, sends warm-up messages for WARMUP_MS
    /// (so tiered compilation has promoted the loop before the window opens: counting messages is not enough, the JIT
    /// promotes after a delay), then COUNT measured ones. MODE: raw, typed, or batch (raw, published every 64).
    /// </summary>
    internal static void Writer(string[] args)
    {
        (string name, long count, int size, string strategy) = (args[0], Long(args[1]), Int(args[2]), args[3]);
        string mode = args.Length > 4 ? args[4] : "raw";
        TimeSpan warmup = TimeSpan.FromMilliseconds(args.Length > 5 ? Int(args[5]) : 0);
        using RingWriter writer = RingWriter.Attach(name, Options(strategy));
        byte[] payload = new byte[size];
        var toy = new Toy { Name = "kite", Sender = "producer", SentAtUtc = DateTime.UtcNow };
        Child.Ready();
        Child.WaitForGo();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < warmup)
        {
            for (int i = 0; i < 1000; i++)
            {
                if (mode == "typed")
                {
                    toy.Sequence = -1;
                    writer.Send(toy, s_deadline);
                }
                else
                {
                    writer.SendRaw(payload, WarmupTypeId, s_deadline);
                }
            }
        }

        var window = new Window();
        if (mode == "batch")
        {
            for (long n = 0; n < count;)
            {
                using RingSendBatch batch = writer.BeginBatch();
                for (int i = 0; i < 64 && n < count; i++, n++)
                {
                    if (!batch.TrySendRaw(payload) && !batch.TrySendRaw(payload, timeout: s_deadline))
                    {
                        throw new TimeoutException("The reader stopped taking messages.");
                    }
                }
            }
        }
        else
        {
            for (long n = 0; n < count; n++)
            {
                if (mode == "typed")
                {
                    toy.Sequence = n;
                    if (!writer.TrySend(toy) && !writer.TrySend(toy, s_deadline))
                    {
                        throw new TimeoutException("The reader stopped taking messages.");
                    }
                }
                else if (!writer.TrySendRaw(payload) && !writer.TrySendRaw(payload, timeout: s_deadline))
                {
                    throw new TimeoutException("The reader stopped taking messages.");
                }
            }
        }

        window.Finish(count, count * size).Print();
    }

    /// <summary>
    /// ring-reader NAME COUNT STRATEGY MODE [START]: reads (subscribes to) the ring, skipping warm-up messages; the window
    /// opens at the first measured one and closes after COUNT. A typed reader checks the sequence numbers of a single writer.
    /// </summary>
    internal static void Reader(string[] args)
    {
        (string name, long count, string strategy) = (args[0], Long(args[1]), args[2]);
        bool typed = args.Length > 3 && args[3] == "typed";
        using RingReader reader = RingReader.Attach(name, Options(strategy));
        Child.Ready();
        Window? window = null;
        long received = 0;
        long bytes = 0;
        long errors = 0;
        while (received < count)
        {
            if (!reader.HasData() && !reader.WaitForData(s_deadline))
            {
                throw new TimeoutException($"Stalled after {received} messages.");
            }

            if (typed)
            {
                while (received < count && reader.TryReceive(out Toy toy))
                {
                    if (toy.Sequence < 0)
                    {
                        continue;
                    }

                    window ??= new Window();
                    errors += toy.Sequence == received ? 0 : 1;
                    received++;
                }
            }
            else
            {
                foreach (RingRecord record in reader.ReadBatch())
                {
                    if (record.TypeId == WarmupTypeId)
                    {
                        continue;
                    }

                    window ??= new Window();
                    bytes += record.Body.Length;
                    received++;
                }
            }
        }

        window!.Finish(received, bytes, errors + (reader.MessagesLost > 0 ? 1 : 0)).Print();
    }

    /// <summary>ring-ping OUT IN COUNT SIZE STRATEGY: sends a message, waits for its echo, records the round trip.</summary>
    internal static void Ping(string[] args)
    {
        (string outName, string inName, long count, int size, string strategy) = (args[0], args[1], Long(args[2]), Int(args[3]), args[4]);
        using RingWriter writer = RingWriter.Attach(outName, Options(strategy));
        using RingReader reader = RingReader.Attach(inName, Options(strategy));
        byte[] payload = new byte[size];
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        Child.Ready();
        Child.WaitForGo();
        long warmup = Math.Min(count / 10, 10_000);
        Window? window = null;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window();
            }

            long start = Stopwatch.GetTimestamp();
            writer.SendRaw(payload, timeout: s_deadline);
            if (!reader.WaitForData(s_deadline))
            {
                throw new TimeoutException("No echo.");
            }

            reader.Drain(static (_, _) => { }, 1);
            if (n >= 0)
            {
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
            }
        }

        window!.Finish(count, count * size, histogram: histogram).Print();
    }

    /// <summary>ring-pong IN OUT COUNT SIZE STRATEGY: echoes every message back.</summary>
    internal static void Pong(string[] args)
    {
        (string inName, string outName, long count, int size, string strategy) = (args[0], args[1], Long(args[2]), Int(args[3]), args[4]);
        using RingReader reader = RingReader.Attach(inName, Options(strategy));
        using RingWriter writer = RingWriter.Attach(outName, Options(strategy));
        long total = count + Math.Min(count / 10, 10_000);
        Child.Ready();
        var window = new Window();
        var echo = new Echo(writer);
        for (long n = 0; n < total; n++)
        {
            if (!reader.WaitForData(s_deadline))
            {
                throw new TimeoutException("No ping.");
            }

            reader.Drain(echo, static (e, payload, _) => e.Writer.SendRaw(payload, timeout: s_deadline), 1);
        }

        window.Finish(total, total * size).Print();
    }

    /// <summary>ring-paced-writer NAME COUNT SIZE RATE: writes at RATE messages/s, each stamped with its send time.</summary>
    internal static void PacedWriter(string[] args)
    {
        (string name, long count, int size, double rate) = (args[0], Long(args[1]), Math.Max(Int(args[2]), 8), double.Parse(args[3], CultureInfo.InvariantCulture));
        using RingWriter writer = RingWriter.Attach(name, Options("hybrid"));
        byte[] payload = new byte[size];
        Child.Ready();
        Child.WaitForGo();
        var window = new Window();
        long start = Stopwatch.GetTimestamp();
        double ticksPerMessage = Stopwatch.Frequency / rate;
        for (long n = 0; n < count; n++)
        {
            // Send at the scheduled time, not "as soon as possible": latency at a rate, not at saturation.
            long due = start + (long)(n * ticksPerMessage);
            while (Stopwatch.GetTimestamp() < due)
            {
                Thread.SpinWait(1);
            }

            BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
            writer.SendRaw(payload, timeout: s_deadline);
        }

        window.Finish(count, count * size).Print();
    }

    /// <summary>ring-latency-reader NAME COUNT STRATEGY: one-way latency from the stamp in each payload (a system-wide monotonic clock).</summary>
    internal static void LatencyReader(string[] args)
    {
        (string name, long count, string strategy) = (args[0], Long(args[1]), args[2]);
        using RingReader reader = RingReader.Attach(name, Options(strategy));
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        Child.Ready();
        if (!reader.WaitForData(s_deadline))
        {
            throw new TimeoutException("No message arrived.");
        }

        var window = new Window();
        long received = 0;
        while (received < count)
        {
            received += reader.Drain(histogram, static (h, payload, _) =>
                Histograms.Record(h, Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(payload)));
            if (received < count && !reader.WaitForData(s_deadline))
            {
                throw new TimeoutException($"Stalled after {received} messages.");
            }
        }

        window.Finish(received, 0, histogram: histogram).Print();
    }

    /// <summary>
    /// ring-idle-reader NAME SECONDS STRATEGY SETTLE: waits for data that never comes and reports the CPU the process
    /// uses while it waits. The window opens SETTLE seconds into the wait: until then the runtime is still compiling
    /// (tiered compilation promotes the wait loop's methods only after they ran 30 times, at four wake-ups a second),
    /// a start-up cost, not the cost of waiting.
    /// </summary>
    internal static void IdleReader(string[] args)
    {
        (string name, double seconds, string strategy) = (args[0], double.Parse(args[1], CultureInfo.InvariantCulture), args[2]);
        TimeSpan settle = TimeSpan.FromSeconds(double.Parse(args[3], CultureInfo.InvariantCulture));
        using RingReader reader = RingReader.Attach(name, Options(strategy));
        Child.Ready();
        ChildResult? result = null;
        var observer = new Thread(() =>
        {
            Thread.Sleep(settle);
            var window = new Window();
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
            result = window.Finish(0, 0);
        });
        observer.Start();
        reader.WaitForData(settle + TimeSpan.FromSeconds(seconds) + TimeSpan.FromMilliseconds(200));
        observer.Join();
        result!.Print();
    }

    private static long Long(string value) => long.Parse(value, CultureInfo.InvariantCulture);

    private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

    private sealed record Echo(RingWriter Writer);
}
