using System.Diagnostics;
using System.Globalization;

namespace IpcKit.Cli;

/// <summary>
/// Progress of a long run (ring produce and consume, pipe send and call of a million messages) on stderr, only when
/// stderr is a terminal: one line rewritten in place four times a second (done / total, percent, rate), erased when
/// the run ends, so the closing summary on stdout is all that remains. A script, or anything that captures stderr,
/// sees nothing. The measured loop only stores a count; a timer reads it.
/// </summary>
internal sealed class Progress : IDisposable
{
    /// <summary>Runs shorter than this many messages finish before a progress line would help.</summary>
    internal const long LongRun = 100_000;

    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(250);

    private readonly string _verb;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer? _timer;
    private readonly Lock _gate = new();
    private long _done;
    private int _width;
    private bool _disposed;

    private Progress(string verb, long total, bool visible)
    {
        _verb = verb;
        _total = total;
        if (visible)
        {
            Print();
            _timer = new Timer(static state => ((Progress)state!).Print(), this, s_interval, s_interval);
        }
    }

    /// <summary>Progress for <paramref name="total"/> messages, shown if stderr is a terminal and the run is long.</summary>
    internal static Progress Start(string verb, long total) =>
        new(verb, total, !Console.IsErrorRedirected && total >= LongRun);

    /// <summary>Progress of a run whose length is not known in advance (until the writers detach): count and rate only.</summary>
    internal static Progress StartOpenEnded(string verb) => new(verb, -1, !Console.IsErrorRedirected);

    /// <summary>How many messages are done; cheap enough for every message.</summary>
    internal void Set(long done) => Volatile.Write(ref _done, done);

    /// <summary>Stops the timer and erases the line.</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        lock (_gate)
        {
            _disposed = true;
            if (_width > 0)
            {
                Console.Error.Write($"\r{new string(' ', _width)}\r");
                Console.Error.Flush();
                _width = 0;
            }
        }
    }

    private void Print()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            long done = Volatile.Read(ref _done);
            double seconds = _clock.Elapsed.TotalSeconds;
            double rate = seconds > 0 ? done / seconds : 0;
            string line = _total < 0
                ? string.Create(CultureInfo.InvariantCulture, $"{_verb} {done:N0} {rate:N0}/s")
                : string.Create(CultureInfo.InvariantCulture, $"{_verb} {done:N0} / {_total:N0} ({100.0 * done / Math.Max(1, _total):F0}%) {rate:N0}/s");
            Console.Error.Write($"\r{line.PadRight(_width)}");
            Console.Error.Flush();
            _width = Math.Max(_width, line.Length);
        }
    }
}
