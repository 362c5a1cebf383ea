using System.Diagnostics;
using System.Globalization;
using IpcKit.Diagnostics;

namespace IpcKit.Cli;

/// <summary>
/// The closing line of ring produce and consume and of pipe send, call and serve: what went through and a hash over
/// every payload byte in order, so a script can compare both ends. One format for all of them.
/// </summary>
internal sealed class Summary
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private Fnv1a64 _hash;

    internal long Count { get; private set; }

    internal long Bytes { get; private set; }

    internal void Add(ReadOnlySpan<byte> payload)
    {
        _hash.Append(payload);
        Count++;
        Bytes += payload.Length;
    }

    internal void Print(string verb, bool json, string? status = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        _watch.Stop();
        Write(verb, Count, Bytes, _hash, _watch.Elapsed, json, status, extra: extra);
    }

    /// <summary>
    /// Prints one summary: as a JSON object (verb, count, bytes, fnv1a64, seconds, messagesPerSecond,
    /// megabytesPerSecond, status, and latency percentiles in microseconds when given) or as one key=value line.
    /// </summary>
    internal static void Write(string verb, long count, long bytes, Fnv1a64 hash, TimeSpan elapsed, bool json, string? status = null, LatencyPercentiles? latency = null, IReadOnlyDictionary<string, object?>? extra = null)
    {
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        if (json)
        {
            var fields = new Dictionary<string, object?>
            {
                ["verb"] = verb,
                ["count"] = count,
                ["bytes"] = bytes,
                ["fnv1a64"] = hash.ToString(),
                ["seconds"] = Math.Round(seconds, 6),
                ["messagesPerSecond"] = Math.Round(count / seconds),
                ["megabytesPerSecond"] = Math.Round(bytes / seconds / 1e6, 1),
                ["status"] = status ?? "ok",
            };
            if (latency is { } l)
            {
                fields["p50Microseconds"] = l.P50;
                fields["p90Microseconds"] = l.P90;
                fields["p99Microseconds"] = l.P99;
                fields["maxMicroseconds"] = l.Max;
            }

            foreach ((string key, object? value) in extra ?? new Dictionary<string, object?>())
            {
                fields[key] = value;
            }

            CliOptions.WriteJson(fields);
            return;
        }

        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{verb}: count={count} bytes={bytes} fnv1a64={hash} seconds={seconds:F3} msgs/s={count / seconds:F0} MB/s={bytes / seconds / 1e6:F1}{(status is null ? "" : " status=" + status)}{string.Concat((extra ?? new Dictionary<string, object?>()).Where(e => e.Value is not (null or Array)).Select(e => $" {e.Key}={e.Value}"))}"));
        if (latency is { } percentiles)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"latency us: p50={percentiles.P50:F1} p90={percentiles.P90:F1} p99={percentiles.P99:F1} max={percentiles.Max:F1}"));
        }
    }
}

/// <summary>Round-trip latency percentiles in microseconds.</summary>
internal readonly record struct LatencyPercentiles(double P50, double P90, double P99, double Max)
{
    /// <summary>Percentiles of round trips measured in Stopwatch ticks.</summary>
    internal static LatencyPercentiles FromTicks(long[] ticks)
    {
        long[] sorted = [.. ticks];
        Array.Sort(sorted);
        double At(double quantile) => Math.Round(sorted[(int)Math.Min(sorted.Length - 1, Math.Max(0, Math.Ceiling(quantile * sorted.Length) - 1))] * 1e6 / Stopwatch.Frequency, 1);
        return new LatencyPercentiles(At(0.50), At(0.90), At(0.99), At(1.0));
    }
}
