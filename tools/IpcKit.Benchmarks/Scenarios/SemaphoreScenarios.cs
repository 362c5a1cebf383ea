using IpcKit.Benchmarks.Harness;
using IpcKit.Synchronization;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>
/// The sem group: round trips through two named semaphores (IpcKit's and the same exchange in C); and locks side by side,
/// an uncontended acquire+release and the hand-off between two processes, for NamedLock, NamedSemaphore used as a lock, a C
/// robust process-shared pthread mutex and flock(2); and how soon a waiter takes over a NamedLock whose holder is killed.
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

        yield return new Scenario
        {
            Group = "sem",
            Name = "IpcKit NamedLock, holder killed (SIGKILL)",
            Kind = "takeover",
            Run = settings => TakeoverAsync(settings.Count(20, 3)),
        };
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

        using BenchChild child = BenchChild.StartNative(path, "lock_bench", kind == "uncontended" ? "uncontended" : "handoff", mechanism, RingScenarios.Text(count));
        ChildResult result = await child.ResultAsync();
        return new ScenarioResult { MessagesPerSecond = result.Messages / result.Seconds, Latency = result.Latency };
    }

    /// <summary>Repeatedly: a holder process takes a NamedLock, a second process waits for it, the holder is killed with SIGKILL; the time from the kill to the takeover.</summary>
    private static async Task<ScenarioResult> TakeoverAsync(long repetitions)
    {
        var takeovers = new List<double>();
        long errors = 0;
        for (long i = 0; i < repetitions; i++)
        {
            string name = $"bench-{Guid.NewGuid():N}"[..20];
            using BenchChild holder = BenchChild.Start("lock-holder", name);
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
