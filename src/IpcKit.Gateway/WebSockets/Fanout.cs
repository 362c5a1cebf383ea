using System.Net.WebSockets;

namespace IpcKit.Gateway.WebSockets;

/// <summary>
/// The WebSocket clients subscribed to one channel. Publishing hands the same frame to every client's queue and never
/// waits for any of them; the list is copied on change, so publishing takes no lock.
/// </summary>
internal class Fanout
{
    private readonly Lock _gate = new();
    private WebSocketSession[] _sessions = [];

    public int Count => Volatile.Read(ref _sessions).Length;

    public void Add(WebSocketSession session)
    {
        lock (_gate)
        {
            _sessions = [.. _sessions, session];
        }

        OnAdded();
    }

    /// <summary>Removes a client; returns how many remain.</summary>
    public int Remove(WebSocketSession session)
    {
        lock (_gate)
        {
            _sessions = [.. _sessions.Where(s => s != session)];
            return _sessions.Length;
        }
    }

    public void Publish(byte[] frame)
    {
        foreach (WebSocketSession session in Volatile.Read(ref _sessions))
        {
            session.Offer(frame);
        }
    }

    /// <summary>Called after a client was added.</summary>
    protected virtual void OnAdded()
    {
    }

    public void CloseAll(WebSocketCloseStatus status, string reason)
    {
        foreach (WebSocketSession session in Volatile.Read(ref _sessions))
        {
            session.Close(status, reason);
        }
    }
}
