using IpcKit.Benchmarks.Harness;
using IpcKit.Synchronization;

namespace IpcKit.Benchmarks.Scenarios;

/// <summary>Round trips through two named semaphores: IpcKit's NamedSemaphore and the same exchange in C.</summary>
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
}
