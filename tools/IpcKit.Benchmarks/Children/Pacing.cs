using System.Diagnostics;

namespace IpcKit.Benchmarks.Children;

/// <summary>Waiting for the next send of a fixed-rate run.</summary>
internal static class Pacing
{
    /// <summary>
    /// Returns at <paramref name="due"/> (Stopwatch ticks) or just after. At tens of thousands of sends per second the
    /// gaps are tens of microseconds, far below what a sleep or timer can hit, so the last stretch yields in a loop:
    /// the pacing thread looks busy in the CPU figures, but gives its core to any thread that can run. Longer gaps sleep.
    /// </summary>
    internal static void WaitUntil(long due)
    {
        long sleepAbove = Stopwatch.Frequency / 500;
        long left;
        while ((left = due - Stopwatch.GetTimestamp()) > 0)
        {
            if (left > sleepAbove)
            {
                Thread.Sleep(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }
}
