using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IpcKit.Benchmarks.Children;

/// <summary>Waiting for the next send of a fixed-rate run.</summary>
internal static partial class Pacing
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>
    /// Returns at <paramref name="due"/> (Stopwatch ticks) or a little after. At tens of thousands of sends per second
    /// the gaps are tens of microseconds, far below what Thread.Sleep or a timer can hit; spinning would hit them, but
    /// takes a core from the parties being measured (this machine has two). So on Unix the thread sleeps in nanosleep
    /// for what is left: the kernel wakes it some tens of microseconds late (timer slack), and the caller then sends
    /// every request that fell due meanwhile, keeping the rate. Elsewhere it yields in a loop.
    /// </summary>
    internal static void WaitUntil(long due)
    {
        long left;
        while ((left = due - Stopwatch.GetTimestamp()) > 0)
        {
            if (OperatingSystem.IsWindows())
            {
                Thread.Yield();
                continue;
            }

            long nanoseconds = (long)(left * ((double)NanosecondsPerSecond / Stopwatch.Frequency));
            var request = new TimeSpec { Seconds = nanoseconds / NanosecondsPerSecond, Nanoseconds = nanoseconds % NanosecondsPerSecond };
            _ = NanoSleep(in request, IntPtr.Zero);
        }
    }

    // int nanosleep(const struct timespec *req, struct timespec *rem); an interrupted sleep just loops.
    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in TimeSpec request, IntPtr remaining);

    /// <summary>struct timespec on 64-bit Unix.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
