using System.Diagnostics;

namespace IpcKit.SharedMemory;

/// <summary>A deadline for waits that may run several times (retries within one timeout).</summary>
internal static class RingDeadline
{
    /// <summary>The deadline <paramref name="timeout"/> from now, in Stopwatch ticks (<see cref="long.MaxValue"/> for infinite).</summary>
    internal static long Start(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return long.MaxValue;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero, nameof(timeout));
        return Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>The time left until <paramref name="deadline"/> (zero once passed; infinite for an infinite deadline).</summary>
    internal static TimeSpan Left(long deadline) =>
        deadline == long.MaxValue
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromSeconds(Math.Max(0, deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
}
