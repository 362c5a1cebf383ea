using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway;

/// <summary>Settings of an <see cref="IpcGateway"/>; read once when the gateway starts (later changes have no effect).</summary>
public sealed class GatewayOptions
{
    /// <summary>The address to listen on: loopback (127.0.0.1) unless another is asked for explicitly.</summary>
    /// <remarks>Any other address needs a <see cref="Certificate"/>, or <see cref="AllowInsecureHttp"/> to send the token in clear.</remarks>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 (the default) takes a free one (see <see cref="IpcGateway.Url"/>).</summary>
    public int Port { get; set; }

    /// <summary>The certificate (with its private key) to serve HTTPS and WSS with; null serves plain HTTP.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Allows plain HTTP on an address other than loopback, where the token would cross the network unencrypted.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>
    /// Host names clients may use in the <c>Host</c> header besides <c>localhost</c> and IP addresses, for example the
    /// names in <see cref="Certificate"/>. Any other name is refused (400): a web page whose DNS name is rebound to the
    /// gateway's address cannot use it.
    /// </summary>
    public IList<string> HostNames { get; set; } = [];

    /// <summary>
    /// Also listen on a Unix socket, <c>gateway-PID.sock</c> in the per-user folder that holds the pipe sockets (0700),
    /// for local clients that are not browsers (<c>curl --unix-socket</c>). Only processes of this user may connect
    /// (checked with the kernel's peer credentials); the token is required as on TCP. Linux only.
    /// </summary>
    public bool UnixSocket { get; set; }

    /// <summary>Tests only: the Unix socket's path instead of the per-user folder's (the folder is then not checked).</summary>
    internal string? UnixSocketPathOverride { get; set; }

    /// <summary>
    /// Where to store the bearer token (created 0600; replaced atomically). Null: <c>gateway-PORT.token</c> in the
    /// per-user IpcKit folder that holds the pipe sockets (0700).
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>Whether to write the token file at all (an embedder may hand <see cref="IpcGateway.Token"/> on itself).</summary>
    public bool WriteTokenFile { get; set; } = true;

    /// <summary>The largest request body, and the largest WebSocket message a client may send, in bytes (default 1 MiB); larger gets 413 or close 1009.</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Messages queued for one WebSocket client before it counts as slow (default 1024).</summary>
    public int WebSocketQueueMessages { get; set; } = 1024;

    /// <summary>Bytes queued for one WebSocket client before it counts as slow (default 8 MiB).</summary>
    public long WebSocketQueueBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>What happens to a slow WebSocket client unless it asks for the other policy (<c>?overflow=</c>).</summary>
    public SlowClientPolicy SlowClientPolicy { get; set; } = SlowClientPolicy.Close;

    /// <summary>How long a write to a full ring waits for room when the request does not say (<c>?timeout=</c>; default 2 s).</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a pipe request waits for its answer when the request does not say (<c>?timeout=</c>; default 10 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for a pipe server to accept the gateway's connection (default 1 s); then 503.</summary>
    public TimeSpan PipeConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most simultaneous client connections, WebSockets included. Null (the default) sizes it from the process's
    /// descriptor limit (the limit minus 256 kept for rings, pipes and files). Connections that have not shown the token
    /// never keep a token holder out: at the cap the oldest of them is closed to make room.
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// How long a connection may stay open without having sent a request with the valid token (default 10 s); then it is
    /// closed. Answers to requests without the token also close their connection.
    /// </summary>
    public TimeSpan AnonymousConnectionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The contract types clients may send and receive by name (empty by default: register yours).</summary>
    public ContractRegistry Contracts { get; set; } = new();

    /// <summary>Where the gateway and Kestrel log; null (the default) logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>A copy, so that changes after start have no effect.</summary>
    internal GatewayOptions Clone()
    {
        var copy = (GatewayOptions)MemberwiseClone();
        copy.HostNames = [.. HostNames];
        return copy;
    }

    /// <summary>Checks every setting; <paramref name="selfHosted"/> adds the listener's (address, port, TLS).</summary>
    /// <exception cref="ArgumentException">A setting is out of range or unsafe; the message names it.</exception>
    internal void Validate(bool selfHosted)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxBodyBytes, int.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(WebSocketQueueMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(WebSocketQueueBytes, 1024);
        ArgumentNullException.ThrowIfNull(Contracts);
        ArgumentNullException.ThrowIfNull(HostNames);
        Positive(WriteTimeout, nameof(WriteTimeout));
        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(PipeConnectTimeout, nameof(PipeConnectTimeout));
        Positive(AnonymousConnectionTimeout, nameof(AnonymousConnectionTimeout));
        foreach (string name in HostNames)
        {
            if (string.IsNullOrWhiteSpace(name) || Uri.CheckHostName(name) == UriHostNameType.Unknown)
            {
                throw Invalid(nameof(HostNames), $"HostNames holds '{name}', which is not a host name.");
            }
        }

        if (!selfHosted)
        {
            return;
        }

        ArgumentNullException.ThrowIfNull(Address);
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, IPEndPoint.MaxPort);
        if (MaxConnections is int max)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1, nameof(MaxConnections));
        }

        if (UnixSocket && !OperatingSystem.IsLinux())
        {
            throw Invalid(nameof(UnixSocket), "The gateway's Unix socket checks who connects with SO_PEERCRED, which only Linux has; it is not available on this OS.");
        }

        if (Certificate is { HasPrivateKey: false })
        {
            throw Invalid(nameof(Certificate), $"The certificate '{Certificate.Subject}' has no private key; HTTPS needs both (for example X509Certificate2.CreateFromPemFile(cert, key)).");
        }

        if (!IPAddress.IsLoopback(Address) && Certificate is null && !AllowInsecureHttp)
        {
            throw Invalid(
                nameof(Address),
                $"The gateway would listen on {Address}, which other machines can reach, over plain HTTP: the bearer token would cross the network unencrypted. Give a Certificate (ipckit gateway --tls-cert/--tls-key), or set AllowInsecureHttp (--insecure-http) if the network is trusted.");
        }
    }

    private static ArgumentException Invalid(string option, string message) => new(message, option);

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most int.MaxValue milliseconds.");
        }
    }
}
