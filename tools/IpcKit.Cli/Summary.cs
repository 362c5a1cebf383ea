using System.Diagnostics;
using System.Globalization;
using IpcKit.Diagnostics;

namespace IpcKit.Cli;

/// <summary>The closing line of produce, consume and send: what went through, and a hash to compare both ends.</summary>
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

    internal void Print(string verb, bool json, string? status = null)
    {
        _watch.Stop();
        double seconds = Math.Max(_watch.Elapsed.TotalSeconds, 1e-9);
        if (json)
        {
            CliOptions.WriteJson(new
            {
                verb,
                count = Count,
                bytes = Bytes,
                fnv1a64 = _hash.ToString(),
                seconds = Math.Round(seconds, 6),
                messagesPerSecond = Math.Round(Count / seconds),
                status = status ?? "ok",
            });
            return;
        }

        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{verb}: count={Count} bytes={Bytes} fnv1a64={_hash} seconds={seconds:F3} msgs/s={Count / seconds:F0}{(status is null ? "" : " status=" + status)}"));
    }
}
