using System.Net;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway;

/// <summary>Settings of an <see cref="IpcGateway"/>.</summary>
public sealed class GatewayOptions
{
    /// <summary>The address to listen on: loopback (127.0.0.1) unless another is asked for explicitly.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 (the default) takes a free one (see <see cref="IpcGateway.Url"/>).</summary>
    public int Port { get; init; }

    /// <summary>
    /// Where to store the bearer token (created 0600; replaced atomically). Null: <c>gateway-PORT.token</c> in the
    /// per-user IpcKit folder that holds the pipe sockets (0700).
    /// </summary>
    public string? TokenFile { get; init; }

    /// <summary>Whether to write the token file at all (an embedder may hand <see cref="IpcGateway.Token"/> on itself).</summary>
    public bool WriteTokenFile { get; init; } = true;

    /// <summary>The largest request body, and the largest WebSocket message a client may send, in bytes (default 1 MiB); larger gets 413 or close 1009.</summary>
    public long MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Messages queued for one WebSocket client before it counts as slow (default 1024).</summary>
    public int WebSocketQueueMessages { get; init; } = 1024;

    /// <summary>Bytes queued for one WebSocket client before it counts as slow (default 8 MiB).</summary>
    public long WebSocketQueueBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>What happens to a slow WebSocket client unless it asks for the other policy (<c>?overflow=</c>).</summary>
    public SlowClientPolicy SlowClientPolicy { get; init; } = SlowClientPolicy.Close;

    /// <summary>How long a write to a full ring waits for room when the request does not say (<c>?timeout=</c>; default 2 s).</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a pipe request waits for its answer when the request does not say (<c>?timeout=</c>; default 10 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for a pipe server to accept the gateway's connection (default 1 s); then 503.</summary>
    public TimeSpan PipeConnectTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The most simultaneous client connections, WebSockets included (default 1000).</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>The contract types clients may send and receive by name (default: those of IpcKit.Contracts).</summary>
    public ContractRegistry Contracts { get; init; } = ContractRegistry.CreateDefault();

    /// <summary>Where the gateway and Kestrel log; null (the default) logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Address);
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, IPEndPoint.MaxPort);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxBodyBytes, int.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(WebSocketQueueMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(WebSocketQueueBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentNullException.ThrowIfNull(Contracts);
        Positive(WriteTimeout, nameof(WriteTimeout));
        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(PipeConnectTimeout, nameof(PipeConnectTimeout));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most int.MaxValue milliseconds.");
        }
    }
}
