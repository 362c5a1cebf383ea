namespace IpcKit.Extensions.Hosting;

/// <summary>Checks of durations in hosted options, with messages that name the option.</summary>
internal static class Durations
{
    internal static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most int.MaxValue milliseconds.");
        }
    }

    internal static void PositiveOrInfinite(TimeSpan value, string name)
    {
        if (value != Timeout.InfiniteTimeSpan)
        {
            Positive(value, name);
        }
    }

    /// <summary>What is left of <paramref name="limit"/> since <paramref name="started"/> (a <see cref="Environment.TickCount64"/>), never negative.</summary>
    internal static TimeSpan Remaining(TimeSpan limit, long started) =>
        limit == Timeout.InfiniteTimeSpan ? limit : TimeSpan.FromMilliseconds(Math.Max(0, limit.TotalMilliseconds - (Environment.TickCount64 - started)));
}
