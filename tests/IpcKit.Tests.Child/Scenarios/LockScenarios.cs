using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Child;

/// <summary>NamedLock from other processes: counters under the lock, holders that wait to be killed, the chaos worker.</summary>
internal static class LockScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>
    /// lock-counter NAME FILE N [LEASES]: N times, holding the lock, reads the number in FILE, adds 1 and writes it back.
    /// Without mutual exclusion two such processes lose updates.
    /// </summary>
    [Scenario("lock-counter")]
    internal static Task<int> CounterAsync(string[] args)
    {
        using var named = new NamedLock(args[0], Options(args, 3));
        string path = args[1];
        int iterations = int.Parse(args[2], CultureInfo.InvariantCulture);
        Scenarios.Ready();
        for (int i = 0; i < iterations; i++)
        {
            using (named.Acquire(Deadline))
            {
                int value = int.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture);
                File.WriteAllText(path, (value + 1).ToString(CultureInfo.InvariantCulture));
            }
        }

        Console.Out.WriteLine("DONE");
        return Task.FromResult(0);
    }

    /// <summary>
    /// lock-holders NAME MAPFILE N LEASES [async]: N times takes a lease and, while holding it, counts itself in the
    /// shared word 0 of MAPFILE and records the highest count seen in word 1 (all processes share both).
    /// </summary>
    [Scenario("lock-holders")]
    internal static async Task<int> HoldersAsync(string[] args)
    {
        using var named = new NamedLock(args[0], Options(args, 3));
        using var shared = new SharedWords(args[1]);
        int iterations = int.Parse(args[2], CultureInfo.InvariantCulture);
        bool useAsync = args.Length > 4 && args[4] == "async";
        Scenarios.Ready();
        for (int i = 0; i < iterations; i++)
        {
            using LockLease lease = useAsync ? await named.AcquireAsync(Deadline) : named.Acquire(Deadline);
            int now = Interlocked.Increment(ref shared[0]);
            int seen;
            while (now > (seen = Volatile.Read(ref shared[1])) && Interlocked.CompareExchange(ref shared[1], now, seen) != seen)
            {
            }

            // Hold the lease for a moment so that holders overlap and the count can reach the number of leases.
            Thread.SpinWait(20_000);
            Interlocked.Decrement(ref shared[0]);
        }

        Console.Out.WriteLine("DONE");
        return 0;
    }

    /// <summary>
    /// lock-hold NAME [LEASES]: takes a lease, prints "HELD lease=I abandoned=PID" (0: not abandoned), holds it until
    /// stdin closes, then releases it and prints RELEASED.
    /// </summary>
    [Scenario("lock-hold")]
    internal static Task<int> HoldAsync(string[] args)
    {
        using var named = new NamedLock(args[0], Options(args, 1));
        using (LockLease lease = named.Acquire(Deadline))
        {
            Console.Out.WriteLine($"HELD lease={lease.Index} abandoned={lease.AbandonedBy ?? 0}");
            Console.Out.Flush();
            Console.In.ReadToEnd();
        }

        Console.Out.WriteLine("RELEASED");
        return Task.FromResult(0);
    }

    /// <summary>lock-wait NAME TIMEOUT_MS [async]: prints READY, waits for a lease; "ACQUIRED lease=I abandoned=PID" (exit 0) or TIMEOUT (exit 1).</summary>
    [Scenario("lock-wait")]
    internal static async Task<int> WaitAsync(string[] args)
    {
        using var named = new NamedLock(args[0]);
        var timeout = TimeSpan.FromMilliseconds(int.Parse(args[1], CultureInfo.InvariantCulture));
        bool useAsync = args.Length > 2 && args[2] == "async";
        Scenarios.Ready();
        LockLease? lease;
        if (useAsync)
        {
            lease = await named.TryAcquireAsync(timeout);
        }
        else
        {
#pragma warning disable CA2000 // The lease is disposed below; the analyzer does not follow an out parameter.
            named.TryAcquire(out lease, timeout);
#pragma warning restore CA2000
        }

        if (lease is null)
        {
            Console.Out.WriteLine("TIMEOUT");
            return 1;
        }

        using (lease)
        {
            Console.Out.WriteLine($"ACQUIRED lease={lease.Index} abandoned={lease.AbandonedBy ?? 0}");
        }

        return 0;
    }

    /// <summary>
    /// lock-chaos NAME MAPFILE SLOT: until stdin closes, takes the lock, checks and sets the owner word 0 of MAPFILE, counts
    /// in word 1, clears the owner and releases; word 4 + SLOT is 1 while this worker holds the lock (only it writes it). A non-zero owner word is allowed only when the lease says its holder
    /// died, and only with that holder's pid (else two held the lock: exit 4). Prints "ABANDONED PID" for each takeover.
    /// </summary>
    [Scenario("lock-chaos")]
    internal static Task<int> ChaosAsync(string[] args)
    {
        using var named = new NamedLock(args[0]);
        using var shared = new SharedWords(args[1]);
        int holding = 4 + int.Parse(args[2], CultureInfo.InvariantCulture);
        int me = Environment.ProcessId;
        Volatile.Write(ref shared[holding], 0);
        using var stop = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            Console.In.ReadToEnd();
            stop.Set();
        })
        { IsBackground = true };
        reader.Start();
        Scenarios.Ready();
        long count = 0;
        while (!stop.IsSet)
        {
            using LockLease lease = named.Acquire(Deadline);
            int owner = Volatile.Read(ref shared[0]);
            if (owner != 0 && owner != lease.AbandonedBy)
            {
                Console.Out.WriteLine($"DOUBLE owner={owner} me={me} abandoned={lease.AbandonedBy ?? 0}");
                return Task.FromResult(4);
            }

            if (lease.Abandoned)
            {
                Console.Out.WriteLine($"ABANDONED {lease.AbandonedBy}");
                Console.Out.Flush();
            }

            Volatile.Write(ref shared[0], me);
            Volatile.Write(ref shared[holding], 1);
            Interlocked.Increment(ref shared[1]);

            // Hold it for a while (tens of microseconds), so that a random kill often lands on the holder.
            Thread.SpinWait(20_000);
            if (Volatile.Read(ref shared[0]) != me)
            {
                Console.Out.WriteLine($"DOUBLE owner={Volatile.Read(ref shared[0])} me={me} (changed while held)");
                return Task.FromResult(4);
            }

            Volatile.Write(ref shared[holding], 0);
            Volatile.Write(ref shared[0], 0);
            count++;
        }

        Console.Out.WriteLine($"DONE {count}");
        return Task.FromResult(0);
    }

    private static NamedLockOptions Options(string[] args, int index) =>
        new() { Leases = args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : 1 };

    /// <summary>Int32 words of a file mapped shared, for counters several processes update atomically.</summary>
    private sealed unsafe class SharedWords : IDisposable
    {
        private readonly MemoryMappedFile _map;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _base;

        public SharedWords(string path)
        {
            _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
            _view = _map.CreateViewAccessor();
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _base = pointer + _view.PointerOffset;
        }

        public ref int this[int index] => ref Unsafe.AsRef<int>(_base + index * sizeof(int));

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
        }
    }
}
