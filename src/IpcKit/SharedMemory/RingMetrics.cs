using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using IpcKit.Diagnostics;

namespace IpcKit.SharedMemory;

/// <summary>
/// Ring instruments on the "IpcKit" meter. The hot path only bumps plain fields of its writer or reader; these
/// observable instruments read them when a listener collects, so an unobserved ring pays nothing for metrics.
/// Every measurement carries the tag <c>ring</c> (the ring name).
/// </summary>
internal static class RingMetrics
{
    private static readonly ConcurrentDictionary<RingWriter, byte> s_writers = new();
    private static readonly ConcurrentDictionary<RingReader, byte> s_readers = new();

    static RingMetrics()
    {
        Meter meter = IpcMeter.Meter;
        meter.CreateObservableCounter("ipckit.ring.messages.written", () => Writers(w => w.MessagesSent), "{message}", "Messages committed to rings.");
        meter.CreateObservableCounter("ipckit.ring.bytes.written", () => Writers(w => w.BytesSent), "By", "Payload bytes committed to rings.");
        meter.CreateObservableCounter("ipckit.ring.full_waits", () => Writers(w => w.FullWaits), "{wait}", "Writes that had to wait because the ring was full.");
        meter.CreateObservableCounter("ipckit.ring.messages.read", () => Readers(r => r.MessagesReceived), "{message}", "Messages consumed from rings.");
        meter.CreateObservableCounter("ipckit.ring.bytes.read", () => Readers(r => r.BytesReceived), "By", "Payload bytes consumed from rings.");
        meter.CreateObservableCounter("ipckit.ring.wakeups", () => Writers(w => w.WakeUps).Concat(Readers(r => r.WakeUps)), "{wakeup}", "Semaphore posts to wake a sleeping peer.");
        meter.CreateObservableCounter("ipckit.ring.holes_skipped", () => Readers(r => r.HolesSkipped), "{hole}", "Claims of dead writers a many-to-one reader skipped.");
        meter.CreateObservableCounter("ipckit.ring.messages.lost", () => Readers(r => r.MessagesLost), "{message}", "Messages broadcast subscribers lost because the writer overtook them.");
        meter.CreateObservableCounter("ipckit.ring.sleeps", () => Writers(w => w.Sleeps).Concat(Readers(r => r.Sleeps)), "{sleep}", "Times an endpoint slept on its semaphore.");
    }

    internal static void Register(RingWriter writer) => s_writers[writer] = 0;

    internal static void Register(RingReader reader) => s_readers[reader] = 0;

    internal static void Unregister(RingWriter writer) => s_writers.TryRemove(writer, out _);

    internal static void Unregister(RingReader reader) => s_readers.TryRemove(reader, out _);

    private static IEnumerable<Measurement<long>> Writers(Func<RingWriter, long> value) =>
        s_writers.Keys.Select(w => new Measurement<long>(value(w), new KeyValuePair<string, object?>("ring", w.Name)));

    private static IEnumerable<Measurement<long>> Readers(Func<RingReader, long> value) =>
        s_readers.Keys.Select(r => new Measurement<long>(value(r), new KeyValuePair<string, object?>("ring", r.Name)));
}
