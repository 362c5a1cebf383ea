using System.Diagnostics;
using System.Globalization;
using IpcKit.Benchmarks.Harness;
using IpcKit.Synchronization;

namespace IpcKit.Benchmarks.Children;

/// <summary>Ping-pong through two named semaphores, the same exchange as the C baseline.</summary>
internal static class SemaphoreChildren
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(1);

    /// <summary>sem-ping A B COUNT: release A, wait B; records each round trip.</summary>
    internal static void Ping(string[] args)
    {
        using NamedSemaphore ping = NamedSemaphore.Open(args[0]);
        using NamedSemaphore pong = NamedSemaphore.Open(args[1]);
        long count = long.Parse(args[2], CultureInfo.InvariantCulture);
        HdrHistogram.LongHistogram histogram = Histograms.Create();
        Child.Ready();
        Child.WaitForGo();
        long warmup = Math.Min(count / 10, 2_000);
        Window? window = null;
        for (long n = -warmup; n < count; n++)
        {
            if (n == 0)
            {
                window = new Window();
            }

            long start = Stopwatch.GetTimestamp();
            ping.Release();
            if (!pong.TryWait(s_deadline))
            {
                throw new TimeoutException("No pong.");
            }

            if (n >= 0)
            {
                Histograms.Record(histogram, Stopwatch.GetTimestamp() - start);
            }
        }

        window!.Finish(count, 0, histogram: histogram).Print();
    }

    /// <summary>sem-pong A B COUNT: wait A, release B.</summary>
    internal static void Pong(string[] args)
    {
        using NamedSemaphore ping = NamedSemaphore.Open(args[0]);
        using NamedSemaphore pong = NamedSemaphore.Open(args[1]);
        long count = long.Parse(args[2], CultureInfo.InvariantCulture);
        long total = count + Math.Min(count / 10, 2_000);
        Child.Ready();
        var window = new Window();
        for (long n = 0; n < total; n++)
        {
            if (!ping.TryWait(s_deadline))
            {
                throw new TimeoutException("No ping.");
            }

            pong.Release();
        }

        window.Finish(total, 0).Print();
    }
}
