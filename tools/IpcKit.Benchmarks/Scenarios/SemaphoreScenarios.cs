using IpcKit.Benchmarks.Harness;
using IpcKit.Synchronization;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>
/// The sem group: round trips through two named semaphores (IpcKit's and the same exchange in C); and locks side by side,
/// an uncontended acquire+release and the hand-off between two processes, for NamedLock, NamedSemaphore used as a lock, a C
/// robust process-shared pthread mutex and flock(2); and how soon a waiter has the lock after its holder is killed with
/// SIGKILL, for the three that give a dead holder's lock back (a NamedLock held by a .NET process and by a C program). A
/// NamedSemaphore never does (a count has no owner), so it has no takeover row.
/// </summary>
internal static class SemaphoreScenarios
{
    internal static IEnumerable<Scenario> All()
    {
        yield return new Scenario
        {
            Group = "sem",
            Name = "IpcKit NamedSemaphore",
            Kind = "ping-pong",
            Run = PingPongAsync,
        };
        yield return new Scenario
        {
            Group = "sem",
            Name = "C POSIX semaphores",
            Kind = "ping-pong",
            IsNativeBaseline = true,
            Run = settings => RingScenarios.NativeAsync(settings, "sem_pingpong", settings.Count(50_000, 2_000)),
        };

        // Each lock the same two ways; the robust pthread mutex is the C baseline the others are compared with.
        (string Name, string Mechanism, bool Native)[] locks =
        [
            ("IpcKit NamedLock", "lock", false),
            ("IpcKit NamedSemaphore as a lock", "sem", false),
            ("C robust pthread mutex", "pthread", true),
            ("C flock(2)", "flock", true),
        ];
        foreach (string kind in new[] { "uncontended", "hand-off" })
        {
            long count = kind == "uncontended" ? 200_000 : 2_000;
            long quick = kind == "uncontended" ? 5_000 : 100;
            foreach ((string name, string mechanism, bool native) in locks)
            {
                yield return new Scenario
                {
                    Group = "sem",
                    Name = name,
                    Kind = kind,
                    IsNativeBaseline = mechanism == "pthread",
                    Run = settings => native
                        ? NativeLockAsync(settings, kind, mechanism, settings.Count(count, quick))
                        : LockAsync(settings, kind, mechanism, settings.Count(count, quick)),
                };
            }
        }

        // A holder killed with SIGKILL while another process waits: how soon the waiter has the lock. The C holder of a
        // NamedLock uses the documented file format, so its row and the C rows compare the wake-up paths without the
        // difference in how long the kernel takes to tear down a .NET process and a C one.
        (string Name, string Holder)[] takeovers =
        [
            ("IpcKit NamedLock (.NET holder)", "dotnet"),
            ("IpcKit NamedLock (C holder)", "c"),
            ("C robust pthread mutex", "pthread"),
            ("C flock(2)", "flock"),
        ];
        foreach ((string name, string holder) in takeovers)
        {
            yield return new Scenario
            {
                Group = "sem",
                Name = name,
                Kind = "takeover",
                IsNativeBaseline = holder == "pthread",
                Run = settings => holder switch
                {
                    "pthread" or "flock" => NativeLockAsync(settings, "takeover", holder, settings.Count(20, 3)),
                    _ => TakeoverAsync(settings, holder == "c", settings.Count(20, 3)),
                },
            };
        }
    }

    private static async Task<ScenarioResult> PingPongAsync(RunSettings settings)
    {
        long count = settings.Count(50_000, 2_000);
        string a = $"bench-{Guid.NewGuid():N}"[..20];
        string b = $"bench-{Guid.NewGuid():N}"[..20];
        using NamedSemaphore ping = NamedSemaphore.Create(a, 0, int.MaxValue);
        using NamedSemaphore pong = NamedSemaphore.Create(b, 0, int.MaxValue);
        try
        {
            using BenchChild ponger = BenchChild.Start("sem-pong", a, b, RingScenarios.Text(count));
            await ponger.ReadyAsync();
            using BenchChild pinger = BenchChild.Start("sem-ping", a, b, RingScenarios.Text(count));
            await pinger.ReadyAsync();
            pinger.Send("GO");
            ChildResult pinged = await pinger.ResultAsync();
            ChildResult ponged = await ponger.ResultAsync();
            return new ScenarioResult
            {
                MessagesPerSecond = pinged.Messages / pinged.Seconds,
                Latency = pinged.Latency,
                CpuCores = RingScenarios.Cores(("ping", pinged), ("pong", ponged)),
            };
        }
        finally
        {
            NamedSemaphore.Delete(a);
            NamedSemaphore.Delete(b);
        }
    }

    /// <summary>NamedLock ("lock") or a NamedSemaphore of count one ("sem"): uncontended in one process, or hand-offs between two.</summary>
    private static async Task<ScenarioResult> LockAsync(RunSettings settings, string kind, string mechanism, long count)
    {
        string name = $"bench-{Guid.NewGuid():N}"[..20];
        string ready = name + "-r";
        string turn = name + "-t";
        string stamps = Path.Combine(Path.GetTempPath(), $"ipckit-bench-{name}.stamp");
        NamedSemaphore? semaphore = mechanism == "sem" ? NamedSemaphore.Create(name, 1, 1) : null;
        try
        {
            if (kind == "uncontended")
            {
                using BenchChild child = BenchChild.Start("lock-uncontended", mechanism, name, RingScenarios.Text(count));
                await child.ReadyAsync();
                child.Send("GO");
                ChildResult result = await child.ResultAsync();
                return new ScenarioResult { MessagesPerSecond = result.Messages / result.Seconds, Latency = result.Latency, CpuCores = RingScenarios.Cores(("process", result)) };
            }

            using NamedSemaphore readySemaphore = NamedSemaphore.Create(ready, 0, 1);
            using NamedSemaphore turnSemaphore = NamedSemaphore.Create(turn, 0, 1);
            File.WriteAllBytes(stamps, new byte[4096]);
            using BenchChild first = BenchChild.Start("lock-handoff", mechanism, name, ready, turn, stamps, RingScenarios.Text(count), "first");
            await first.ReadyAsync();
            using BenchChild second = BenchChild.Start("lock-handoff", mechanism, name, ready, turn, stamps, RingScenarios.Text(count), "second");
            await second.ReadyAsync();
            first.Send("GO");
            second.Send("GO");
            ChildResult measured = await first.ResultAsync();
            await second.ResultAsync();
            return new ScenarioResult { MessagesPerSecond = measured.Messages / measured.Seconds, Latency = measured.Latency };
        }
        finally
        {
            semaphore?.Dispose();
            NamedSemaphore.Delete(name);
            NamedSemaphore.Delete(ready);
            NamedSemaphore.Delete(turn);
            File.Delete(stamps);
        }
    }

    private static async Task<ScenarioResult> NativeLockAsync(RunSettings settings, string kind, string mechanism, long count)
    {
        string? path = settings.Native.Get("lock_bench");
        if (path is null)
        {
            return new ScenarioResult { Note = settings.Native.Unavailable ?? "lock_bench.c not found" };
        }

        using BenchChild child = BenchChild.StartNative(path, "lock_bench", kind == "hand-off" ? "handoff" : kind, mechanism, RingScenarios.Text(count));
        ChildResult result = await child.ResultAsync();

        // A takeover round is mostly forking and killing processes: only its latency means something.
        return new ScenarioResult { MessagesPerSecond = kind == "takeover" ? null : result.Messages / result.Seconds, Latency = result.Latency };
    }

    /// <summary>
    /// Repeatedly: a holder process (IpcKit's, or a C program using the lock file format) takes a NamedLock, a second
    /// process waits for it, the holder is killed with SIGKILL; the time from the kill to the takeover.
    /// </summary>
    private static async Task<ScenarioResult> TakeoverAsync(RunSettings settings, bool cHolder, long repetitions)
    {
        string? native = cHolder ? settings.Native.Get("lock_bench") : null;
        if (cHolder && native is null)
        {
            return new ScenarioResult { Note = settings.Native.Unavailable ?? "lock_bench.c not found" };
        }

        var takeovers = new List<double>();
        long errors = 0;
        for (long i = 0; i < repetitions; i++)
        {
            string name = $"bench-{Guid.NewGuid():N}"[..20];

            // A C holder opens the lock file the waiter would otherwise create: this instance makes it and keeps it open.
            using NamedLock? keeper = cHolder ? new NamedLock(name) : null;
            using BenchChild holder = cHolder ? BenchChild.StartNative(native!, "lock_bench", "hold", keeper!.Path) : BenchChild.Start("lock-holder", name);
            await holder.ReadyAsync();
            using BenchChild waiter = BenchChild.Start("lock-takeover", name);
            await waiter.ReadyAsync();

            // Let the waiter fall asleep: the lock file counts its sleepers.
            var settle = System.Diagnostics.Stopwatch.StartNew();
            while ((NamedLock.GetInfo(name)?.Waiters ?? 0) == 0 && settle.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(5);
            }

            using (var process = System.Diagnostics.Process.GetProcessById(holder.Id))
            {
                long killed = System.Diagnostics.Stopwatch.GetTimestamp();
                process.Kill();
                waiter.Send("T0 " + RingScenarios.Text(killed));
            }

            ChildResult result = await waiter.ResultAsync();
            errors += result.Errors;
            takeovers.Add(result.Latency!.P50);
        }

        takeovers.Sort();
        double At(double quantile) => takeovers[(int)Math.Min(takeovers.Count - 1, Math.Ceiling(quantile * takeovers.Count) - 1)];
        return new ScenarioResult
        {
            Latency = new LatencySummary(At(0.5), At(0.99), At(0.999), takeovers[^1], takeovers.Count),
            Errors = errors,
            Note = errors > 0 ? "a takeover was not told Abandoned" : null,
        };
    }
}
