using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using IpcKit.Benchmarks.Harness;
using IpcKit.Synchronization;

namespace IpcKit.Benchmarks.Children;

/// <summary>
/// NamedLock and NamedSemaphore used as a lock, measured the same way as the C baselines of native/lock_bench.c:
/// uncontended acquire+release, and the hand-off between two processes.
/// </summary>
internal static class LockChildren
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(1);

    /// <summary>lock-uncontended lock|sem NAME COUNT: acquires and releases COUNT times, timing each pair.</summary>
    internal static void Uncontended(string[] args)
    {
        using Mechanism mechanism = Mechanism.Open(args[0], args[1]);
        long count = long.Parse(args[2], CultureInfo.InvariantCulture);
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        Child.Ready();
        Child.WaitForGo();
        for (long n = 0; n < count / 10; n++)
        {
            mechanism.Take();
            mechanism.Give();
        }

        var window = new Window();
        for (long n = 0; n < count; n++)
        {
            long start = Stopwatch.GetTimestamp();
            mechanism.Take();
            mechanism.Give();
            Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
        }

        window.Finish(count, 0, histogram: histogram).Print();
    }

    /// <summary>
    /// lock-handoff lock|sem NAME READY TURN STAMPFILE COUNT first|second: the two parties pass the lock back and forth
    /// (the protocol of native/lock_bench.c: the waiter announces itself on READY and blocks; the holder lets it fall
    /// asleep, stamps the time in STAMPFILE and releases; the waiter stamps when it got the lock and posts TURN). The
    /// first party holds first and records the hand-offs to itself.
    /// </summary>
    internal static void HandOff(string[] args)
    {
        using Mechanism mechanism = Mechanism.Open(args[0], args[1]);
        using NamedSemaphore ready = NamedSemaphore.Open(args[2]);
        using NamedSemaphore turn = NamedSemaphore.Open(args[3]);
        using var stamps = MemoryMappedFile.CreateFromFile(args[4], FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        using MemoryMappedViewAccessor stamp = stamps.CreateViewAccessor(0, 8);
        long count = long.Parse(args[5], CultureInfo.InvariantCulture);
        int me = args[6] == "first" ? 0 : 1;
        long warmup = Math.Min(count / 10, 200);
        long total = 2 * (count + warmup);
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        bool holding = me == 0;
        if (holding)
        {
            mechanism.Take();
        }

        Child.Ready();
        Child.WaitForGo();
        Window? window = null;
        for (long i = 0; i < total; i++)
        {
            if (i == 2 * warmup)
            {
                window = new Window();
            }

            if (me == i % 2)
            {
                ready.Wait(s_deadline);
                Thread.Sleep(1);
                stamp.Write(0, Stopwatch.GetTimestamp());
                mechanism.Give();
                holding = false;
                turn.Wait(s_deadline);
            }
            else
            {
                ready.Release();
                mechanism.Take();
                holding = true;
                long latency = Stopwatch.GetTimestamp() - stamp.ReadInt64(0);
                if (me == 0 && i >= 2 * warmup)
                {
                    Histograms.Record(histogram, latency);
                }

                turn.Release();
            }
        }

        if (holding)
        {
            mechanism.Give();
        }

        window!.Finish(me == 0 ? count : 0, 0, histogram: me == 0 ? histogram : null).Print();
    }

    /// <summary>lock-holder NAME: takes the lock, says READY and holds it until it is killed.</summary>
    internal static void Holder(string[] args)
    {
        using var named = new NamedLock(args[0]);
        using LockLease lease = named.Acquire(s_deadline);
        Child.Ready();
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>
    /// lock-takeover NAME: says READY and waits for the lock (whose holder the harness kills); once it has it, reads the
    /// kill's timestamp from stdin ("T0 TICKS") and reports the time from the kill to the takeover.
    /// </summary>
    internal static void Takeover(string[] args)
    {
        long taken;
        bool abandoned;
        using (var named = new NamedLock(args[0]))
        {
            Child.Ready();
            using LockLease lease = named.Acquire(s_deadline);
            taken = Stopwatch.GetTimestamp();
            abandoned = lease.Abandoned;
        }

        // Released and closed before the result goes out: the harness may kill this process once it has the result,
        // and a lock killed in our hands would stay behind with our mark.
        string line = Console.In.ReadLine() ?? throw new InvalidOperationException("No kill time from the harness.");
        long killed = long.Parse(line["T0 ".Length..], CultureInfo.InvariantCulture);
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        Histograms.Record(histogram, taken - killed);
        new Window().Finish(1, 0, errors: abandoned ? 0 : 1, histogram: histogram).Print();
    }

    /// <summary>A NamedLock, or a NamedSemaphore with a count of one used as a lock.</summary>
    private sealed class Mechanism : IDisposable
    {
        private readonly NamedLock? _lock;
        private readonly NamedSemaphore? _semaphore;
        private LockLease? _lease;

        private Mechanism(NamedLock? namedLock, NamedSemaphore? semaphore)
        {
            _lock = namedLock;
            _semaphore = semaphore;
        }

        public static Mechanism Open(string kind, string name) =>
            kind == "lock" ? new Mechanism(new NamedLock(name), null) : new Mechanism(null, NamedSemaphore.Open(name));

        public void Take()
        {
            if (_lock is not null)
            {
                _lease = _lock.Acquire(s_deadline);
            }
            else
            {
                _semaphore!.Wait(s_deadline);
            }
        }

        public void Give()
        {
            if (_lock is not null)
            {
                _lease?.Dispose();
                _lease = null;
            }
            else
            {
                _semaphore!.Release();
            }
        }

        public void Dispose()
        {
            _lease?.Dispose();
            _lock?.Dispose();
            _semaphore?.Dispose();
        }
    }
}
