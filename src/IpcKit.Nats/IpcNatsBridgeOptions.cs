using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace IpcKit.Nats;

/// <summary>What an <see cref="IpcNatsBridge"/> connects: one NATS server and the routes between it and local channels.</summary>
public sealed class IpcNatsBridgeOptions
{
    /// <summary>The NATS server's URL.</summary>
    public string Url { get; init; } = "nats://127.0.0.1:4222";

    /// <summary>The client name the NATS server shows for this bridge.</summary>
    public string ClientName { get; init; } = "ipckit-bridge";

    /// <summary>Adjusts the NATS client's options (credentials, TLS, buffers) after the bridge set its own.</summary>
    public Func<NatsOpts, NatsOpts>? ConfigureNats { get; init; }

    /// <summary>The routes to run; at least one.</summary>
    public IList<BridgeRoute> Routes { get; init; } = [];

    /// <summary>How long starting waits for the NATS server, for a ring to exist and for a pipe server to accept.</summary>
    public TimeSpan AttachTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times the NATS client tries to reconnect after losing the server before the bridge fails (about 2 s apart).</summary>
    public int MaxReconnectAttempts { get; init; } = 30;

    /// <summary>Where the bridge logs (null: nothing is logged). Event ids 6000-6999.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks every setting and route; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("nats" or "tls" or "ws" or "wss"))
        {
            throw new ArgumentException($"Url '{Url}' is not a NATS URL such as nats://127.0.0.1:4222.", nameof(Url));
        }

        BridgeRoute.ValidatePositive(AttachTimeout, nameof(AttachTimeout), allowInfinite: false);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnectAttempts, 0, nameof(MaxReconnectAttempts));
        if (Routes is null || Routes.Count == 0)
        {
            throw new ArgumentException("Routes is empty: a bridge needs at least one route.", nameof(Routes));
        }

        var rings = new HashSet<string>(StringComparer.Ordinal);
        var pipes = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Routes.Count; i++)
        {
            BridgeRoute route = Routes[i] ?? throw new ArgumentException($"Routes[{i}] is null.", nameof(Routes));
            route.Validate();

            // One process cannot hold a ring role or a pipe name twice.
            string? ring = route switch { RingToNatsRoute r => "reader " + r.Ring, NatsToRingRoute r => "writer " + r.Ring, _ => null };
            if (ring is not null && !rings.Add(ring))
            {
                throw new ArgumentException($"Routes[{i}] ({route}) takes the ring role '{ring}' that an earlier route already takes.", nameof(Routes));
            }

            if (route is PipeConnectRoute connect && !pipes.Add(connect.Pipe))
            {
                throw new ArgumentException($"Routes[{i}] ({route}) serves pipe '{connect.Pipe}', which an earlier route already serves.", nameof(Routes));
            }
        }
    }
}
