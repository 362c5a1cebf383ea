using System.Diagnostics;
using System.Text.Json;
using HdrHistogram;

namespace IpcKit.Benchmarks.Harness;

/// <summary>
/// What a measured child process reports on its last line ("RESULT {json}"): its own counts, timings, CPU time
/// and allocations over the measured window, and a latency histogram if it recorded one.
/// </summary>
public sealed record ChildResult
{
    public long Messages { get; init; }

    public long Bytes { get; init; }

    public double Seconds { get; init; }

    public double CpuSeconds { get; init; }

    public long AllocatedBytes { get; init; }

    public long Errors { get; init; }

    public LatencySummary? Latency { get; init; }

    internal const string Prefix = "RESULT ";

    internal static JsonSerializerOptions Json { get; } = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Prints the result line a parent harness reads.</summary>
    internal void Print() => Console.Out.WriteLine(Prefix + JsonSerializer.Serialize(this, Json));

    internal static ChildResult Parse(string line) => JsonSerializer.Deserialize<ChildResult>(line[Prefix.Length..], Json)!;
}

/// <summary>Measures one child's window: wall time, CPU time, allocations.</summary>
/// <remarks>
/// Allocations are those of the measuring thread by default, which is exact for a party that does all its work on
/// one thread. An async party (a pipe channel, StreamJsonRpc, NetMQ) works on pool and I/O threads too: it counts the
/// whole process's allocations instead (<see cref="Window(bool)"/> with true), which includes a little of the runtime's
/// own background work but nothing is missed.
/// </remarks>
internal sealed class Window
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private readonly TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly bool _wholeProcess;
    private readonly long _allocated;

    internal Window()
        : this(wholeProcess: false)
    {
    }

    /// <summary>Starts the window; <paramref name="wholeProcess"/> counts every thread's allocations, not only this one's.</summary>
    internal Window(bool wholeProcess)
    {
        _wholeProcess = wholeProcess;
        _allocated = Allocated();
    }

    private long Allocated() => _wholeProcess ? GC.GetTotalAllocatedBytes(precise: true) : GC.GetAllocatedBytesForCurrentThread();

    internal ChildResult Finish(long messages, long bytes, long errors = 0, LongHistogram? histogram = null)
    {
        _watch.Stop();
        return new ChildResult
        {
            Messages = messages,
            Bytes = bytes,
            Seconds = _watch.Elapsed.TotalSeconds,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalSeconds,
            AllocatedBytes = Allocated() - _allocated,
            Errors = errors,
            Latency = histogram is null ? null : Histograms.Summarize(histogram),
        };
    }
}

/// <summary>HdrHistogram helpers: values are recorded in nanoseconds (3 significant digits) and summarized in microseconds.</summary>
internal static class Histograms
{
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    internal static LongHistogram Create() => new(3_600_000_000_000L, 3);

    internal static void Record(LongHistogram histogram, long stopwatchTicks) =>
        histogram.RecordValue(Math.Max(1, (long)(stopwatchTicks * s_nanosecondsPerTick)));

    internal static LatencySummary Summarize(LongHistogram histogram)
    {
        static double Microseconds(long nanoseconds) => nanoseconds / 1000.0;
        return new LatencySummary(
            Microseconds(histogram.GetValueAtPercentile(50)),
            Microseconds(histogram.GetValueAtPercentile(99)),
            Microseconds(histogram.GetValueAtPercentile(99.9)),
            Microseconds(histogram.GetMaxValue()),
            histogram.TotalCount);
    }
}
