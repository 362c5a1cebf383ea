using System.Diagnostics.Metrics;
using IpcKit.Diagnostics;

namespace IpcKit.Pipes;

/// <summary>
/// The pipe channel's instruments on the shared "IpcKit" meter. Counters are process-wide: a tag per pipe name would cost
/// a tag list on every message, and the send path must not allocate.
/// </summary>
internal static class PipeMetrics
{
    internal static UpDownCounter<long> Connections { get; } = IpcMeter.Meter.CreateUpDownCounter<long>(
        "ipckit.pipe.connections", "{connection}", "Pipe connections open now.");

    internal static Counter<long> ConnectionsClosed { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.connections.closed", "{connection}", "Pipe connections ended, tagged with the reason.");

    internal static Counter<long> MessagesSent { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.messages.sent", "{message}", "Messages, requests and responses written.");

    internal static Counter<long> MessagesReceived { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.messages.received", "{message}", "Messages, requests and responses read.");

    internal static Counter<long> BytesSent { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.bytes.sent", "By", "Bytes written to pipe connections, headers included.");

    internal static Counter<long> BytesReceived { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.bytes.received", "By", "Bytes read from pipe connections, headers included.");

    internal static Counter<long> MessagesDropped { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.messages.dropped", "{message}", "One-way messages received that no handler and no reader took.");

    internal static Counter<long> Requests { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.requests", "{request}", "Requests sent.");

    internal static Histogram<double> RequestDuration { get; } = IpcMeter.Meter.CreateHistogram<double>(
        "ipckit.pipe.request.duration", "s", "Time from sending a request to its answer.");

    internal static Counter<long> Failures { get; } = IpcMeter.Meter.CreateCounter<long>(
        "ipckit.pipe.failures", "{failure}", "Failed requests and connections, tagged with the kind of failure.");

    internal static void Failure(string kind) => Failures.Add(1, new KeyValuePair<string, object?>("kind", kind));
}
