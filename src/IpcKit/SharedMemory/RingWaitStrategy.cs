namespace IpcKit.SharedMemory;

/// <summary>
/// How a ring endpoint waits for its peer: spin on shared memory first (a wake-up costs nothing, about 0.3 µs),
/// then yield the CPU, then sleep on the ring's named semaphore (a wake-up costs a system call on each side,
/// 20-35 µs, but an idle endpoint uses no CPU). The peer posts the semaphore only when this side really sleeps.
/// </summary>
public sealed class RingWaitStrategy
{
    /// <summary>Spin without end, never sleep: lowest latency, one core fully busy per waiting endpoint.</summary>
    public static RingWaitStrategy BusySpin { get; } = new() { SpinTime = Timeout.InfiniteTimeSpan, YieldTime = TimeSpan.Zero };

    /// <summary>The default: spin 20 µs, yield 50 µs, then sleep. Fast when busy, idle when idle.</summary>
    public static RingWaitStrategy Hybrid { get; } = new() { SpinTime = TimeSpan.FromMicroseconds(20), YieldTime = TimeSpan.FromMicroseconds(50) };

    /// <summary>Sleep on the semaphore almost at once: least CPU, a system call per wake-up.</summary>
    public static RingWaitStrategy Blocking { get; } = new() { SpinTime = TimeSpan.FromMicroseconds(1), YieldTime = TimeSpan.Zero };

    /// <summary>How long to spin before yielding; <see cref="Timeout.InfiniteTimeSpan"/> spins forever.</summary>
    public TimeSpan SpinTime { get; init; }

    /// <summary>How long to keep yielding the CPU after spinning, before sleeping on the semaphore.</summary>
    public TimeSpan YieldTime { get; init; }

    /// <summary>Whether this strategy ever sleeps on the semaphore.</summary>
    public bool Sleeps => SpinTime != Timeout.InfiniteTimeSpan;

    /// <inheritdoc />
    public override string ToString() =>
        Sleeps ? $"spin {SpinTime.TotalMicroseconds} µs, yield {YieldTime.TotalMicroseconds} µs, then sleep" : "busy spin";
}
