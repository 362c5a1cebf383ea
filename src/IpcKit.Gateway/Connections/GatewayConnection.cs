using Microsoft.AspNetCore.Connections;

namespace IpcKit.Gateway.Connections;

/// <summary>
/// One client connection as the <see cref="ConnectionGuard"/> sees it, set as a connection feature so the request
/// checks (<see cref="Http.GatewayGuard"/>) can mark it trusted once a request on it has shown the token.
/// </summary>
internal sealed class GatewayConnection
{
    private readonly ConnectionGuard _guard;

    public GatewayConnection(ConnectionGuard guard, ConnectionContext connection, long openedAt)
    {
        _guard = guard;
        Connection = connection;
        OpenedAt = openedAt;
    }

    public ConnectionContext Connection { get; }

    /// <summary>When it was accepted (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long OpenedAt { get; }

    /// <summary>Its place in the guard's list of connections without the token; null once trusted or gone. Guarded by the guard's lock.</summary>
    internal LinkedListNode<GatewayConnection>? AnonymousNode { get; set; }

    /// <summary>Whether the guard closed it to make room (it is then no longer counted). Guarded by the guard's lock.</summary>
    internal bool Evicted { get; set; }

    /// <summary>Whether a request on it has shown the token.</summary>
    public bool IsAuthenticated { get; private set; }

    public string Remote => Connection.RemoteEndPoint?.ToString() ?? "a local socket";

    /// <summary>A request on this connection carried the valid token: it may stay open (keep-alive) and is never evicted.</summary>
    public void Authenticated()
    {
        if (!IsAuthenticated)
        {
            IsAuthenticated = true;
            _guard.Trust(this);
        }
    }
}
