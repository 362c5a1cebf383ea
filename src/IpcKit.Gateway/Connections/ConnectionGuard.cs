using System.Globalization;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway.Connections;

// Who may hold a connection. Every client on this machine shares 127.0.0.1, so a per-address limit cannot tell an
// attacker from a token holder; what tells them apart is the token. The rules:
//
//   - A connection is anonymous from accept until a request on it shows the token (GatewayGuard marks it trusted).
//     Answers to requests without the token carry "Connection: close", so an anonymous connection lives for one
//     request at most, and for at most AnonymousConnectionTimeout in all (a client that sends nothing, or trickles its
//     headers, is closed then).
//   - The cap (sized from the descriptor limit, so accept never fails with EMFILE) counts every connection. When a new
//     one arrives at the cap, the oldest anonymous connection is closed to make room; only when every connection is
//     trusted is the newcomer refused. So connections without the token can delay a token holder by the time it
//     takes to accept one more connection, never keep it out.
//
// Anonymous connections are kept in accept order, so both the eviction victim and the connections past their deadline
// are at the head of the list; one sweep timer serves them all.
internal sealed class ConnectionGuard : IDisposable
{
    private readonly int _cap;
    private readonly TimeSpan _anonymousTimeout;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly LinkedList<GatewayConnection> _anonymous = new();
    private readonly ITimer _sweep;
    private int _count;

    public ConnectionGuard(int cap, TimeSpan anonymousTimeout, ILogger logger, TimeProvider? time = null)
    {
        _cap = cap;
        _anonymousTimeout = anonymousTimeout;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(anonymousTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        _sweep = _time.CreateTimer(static state => ((ConnectionGuard)state!).Sweep(), this, period, period);
    }

    /// <summary>The connection cap.</summary>
    public int Cap => _cap;

    /// <summary>Connections open now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Connections open now that have not shown the token.</summary>
    public int AnonymousCount
    {
        get
        {
            lock (_gate)
            {
                return _anonymous.Count;
            }
        }
    }

    /// <summary>The default cap: the descriptor limit, less 256 kept for rings, pipes, files and the runtime itself.</summary>
    public static int DefaultCap()
    {
        ulong? limit = OperatingSystem.IsWindows() ? null : Interop.Limits.OpenFiles();
        return limit is ulong value ? (int)Math.Clamp((long)Math.Min(value, int.MaxValue) - 256, 16, int.MaxValue) : 100_000;
    }

    /// <summary>Kestrel connection middleware: admits, tracks and finally forgets one connection.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var state = new GatewayConnection(this, connection, _time.GetTimestamp());
        if (!Admit(state))
        {
            // Returning without running the rest of the pipeline closes the connection.
            return;
        }

        connection.Features.Set(state);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Forget(state);
        }
    }

    /// <summary>A request on <paramref name="connection"/> showed the token: it leaves the anonymous list.</summary>
    internal void Trust(GatewayConnection connection)
    {
        lock (_gate)
        {
            if (connection.AnonymousNode is { } node)
            {
                _anonymous.Remove(node);
                connection.AnonymousNode = null;
            }
        }
    }

    public void Dispose() => _sweep.Dispose();

    private bool Admit(GatewayConnection connection)
    {
        GatewayConnection? evicted = null;
        lock (_gate)
        {
            if (_count >= _cap)
            {
                if (_anonymous.First is not { } oldest)
                {
                    GatewayLog.ConnectionCapRefused(_logger, _cap, connection.Remote);
                    return false;
                }

                // The evicted connection is no longer counted: its slot goes to the newcomer at once, even before the
                // evicted one's pipeline has unwound.
                evicted = oldest.Value;
                _anonymous.RemoveFirst();
                evicted.AnonymousNode = null;
                evicted.Evicted = true;
                _count--;
            }

            _count++;
            connection.AnonymousNode = _anonymous.AddLast(connection);
        }

        if (evicted is not null)
        {
            GatewayLog.ConnectionCapEvicted(_logger, _cap, evicted.Remote, (long)_time.GetElapsedTime(evicted.OpenedAt).TotalMilliseconds);
            evicted.Connection.Abort(new ConnectionAbortedException("The gateway's connection cap is reached; a connection without the token made room."));
        }

        return true;
    }

    private void Forget(GatewayConnection connection)
    {
        lock (_gate)
        {
            if (connection.AnonymousNode is { } node)
            {
                _anonymous.Remove(node);
                connection.AnonymousNode = null;
            }

            if (!connection.Evicted)
            {
                _count--;
            }
        }
    }

    private void Sweep()
    {
        List<GatewayConnection>? expired = null;
        lock (_gate)
        {
            while (_anonymous.First is { } oldest && _time.GetElapsedTime(oldest.Value.OpenedAt) >= _anonymousTimeout)
            {
                _anonymous.RemoveFirst();
                oldest.Value.AnonymousNode = null;
                (expired ??= []).Add(oldest.Value);
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (GatewayConnection connection in expired)
        {
            GatewayLog.AnonymousConnectionTimedOut(_logger, connection.Remote, (long)_anonymousTimeout.TotalMilliseconds);
            connection.Connection.Abort(new ConnectionAbortedException(string.Create(
                CultureInfo.InvariantCulture, $"No request with the token within {_anonymousTimeout.TotalMilliseconds} ms.")));
        }
    }
}
