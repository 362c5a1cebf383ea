using System.Diagnostics.Metrics;
using IpcKit.Diagnostics;

namespace IpcKit.Gateway;

/// <summary>
/// Counters of one gateway since it started, also published as instruments (ipckit.gateway.*) on the "IpcKit" meter.
/// </summary>
public sealed class GatewayStatistics
{
    private static readonly Meter s_meter = new(IpcMeter.Name);
    private static readonly Counter<long> s_toChannels = s_meter.CreateCounter<long>(
        "ipckit.gateway.messages.in", "{message}", "Messages clients sent into rings and pipes through the gateway.");
    private static readonly Counter<long> s_fromChannels = s_meter.CreateCounter<long>(
        "ipckit.gateway.messages.out", "{message}", "Messages the gateway delivered to clients (REST reads and WebSocket frames).");
    private static readonly UpDownCounter<long> s_clients = s_meter.CreateUpDownCounter<long>(
        "ipckit.gateway.websocket.clients", "{client}", "WebSocket clients connected now.");
    private static readonly Counter<long> s_slowClosed = s_meter.CreateCounter<long>(
        "ipckit.gateway.websocket.slow_closed", "{client}", "WebSocket clients closed because they read too slowly.");
    private static readonly Counter<long> s_skipped = s_meter.CreateCounter<long>(
        "ipckit.gateway.websocket.skipped", "{message}", "Messages dropped from slow WebSocket clients' queues (skip policy).");
    private static readonly Counter<long> s_problems = s_meter.CreateCounter<long>(
        "ipckit.gateway.problems", "{response}", "Requests refused or failed, tagged with the problem code.");

    private long _messagesIn;
    private long _messagesOut;
    private long _webSocketClients;
    private long _slowClientsClosed;
    private long _messagesSkipped;
    private long _problems;

    /// <summary>Messages clients sent into rings and pipes.</summary>
    public long MessagesIn => Volatile.Read(ref _messagesIn);

    /// <summary>Messages delivered to clients (each WebSocket frame counts once per client).</summary>
    public long MessagesOut => Volatile.Read(ref _messagesOut);

    /// <summary>WebSocket clients connected now.</summary>
    public long WebSocketClients => Volatile.Read(ref _webSocketClients);

    /// <summary>WebSocket clients closed because their send queue overflowed (<see cref="SlowClientPolicy.Close"/>).</summary>
    public long SlowClientsClosed => Volatile.Read(ref _slowClientsClosed);

    /// <summary>Messages dropped from slow clients' queues (<see cref="SlowClientPolicy.Skip"/>).</summary>
    public long MessagesSkipped => Volatile.Read(ref _messagesSkipped);

    /// <summary>Requests answered with a problem (4xx or 5xx), and WebSocket error frames.</summary>
    public long Problems => Volatile.Read(ref _problems);

    internal void In(int count)
    {
        Interlocked.Add(ref _messagesIn, count);
        s_toChannels.Add(count);
    }

    internal void Out(int count)
    {
        Interlocked.Add(ref _messagesOut, count);
        s_fromChannels.Add(count);
    }

    internal void ClientOpened()
    {
        Interlocked.Increment(ref _webSocketClients);
        s_clients.Add(1);
    }

    internal void ClientClosed()
    {
        Interlocked.Decrement(ref _webSocketClients);
        s_clients.Add(-1);
    }

    internal void SlowClientClosed()
    {
        Interlocked.Increment(ref _slowClientsClosed);
        s_slowClosed.Add(1);
    }

    internal void Skipped(long count)
    {
        Interlocked.Add(ref _messagesSkipped, count);
        s_skipped.Add(count);
    }

    internal void Problem(string code)
    {
        Interlocked.Increment(ref _problems);
        s_problems.Add(1, new KeyValuePair<string, object?>("code", code));
    }
}
