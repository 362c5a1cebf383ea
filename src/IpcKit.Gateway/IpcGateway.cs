using System.Globalization;
using System.Net;
using System.Net.Sockets;
using IpcKit.Gateway.Channels;
using IpcKit.Gateway.Connections;
using IpcKit.Gateway.Http;
using IpcKit.Gateway.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Gateway;

/// <summary>
/// A REST/JSON and WebSocket gateway to IpcKit rings and pipe channels: non-.NET processes send and receive the same
/// contracts as JSON. Self-hosted on its own Kestrel listener (<see cref="StartAsync"/>, loopback unless told
/// otherwise), or mounted in an ASP.NET Core app (<c>services.AddIpcGateway()</c>, <c>app.MapIpcGateway("/ipc")</c>).
/// Every endpoint but /health and /openapi.json requires the bearer token it generates at start (<see cref="Token"/>).
/// </summary>
/// <remarks>The endpoints, the JSON shapes and the policies are described in docs/gateway.md and served at /openapi.json.</remarks>
public sealed class IpcGateway : IAsyncDisposable
{
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly GatewayContext _context;
    private readonly ChannelRegistry _channels;
    private readonly CancellationTokenSource _stopping;
    private readonly ILogger _logger;
    private WebApplication? _app;
    private ConnectionGuard? _connections;
    private GatewayEndpoints? _endpoints;
    private bool _defaultTokenFolder;
    private int _stopped;

    private IpcGateway(GatewayContext context, CancellationTokenSource stopping)
    {
        _context = context;
        _stopping = stopping;
        _logger = context.Logger;
        _channels = new ChannelRegistry(context);
    }

    /// <summary>
    /// Where the gateway listens, without a trailing slash (for example <c>http://127.0.0.1:43117</c>, so
    /// <c>$"{Url}/contracts"</c> works); null when it is mounted in an app, whose addresses are the app's.
    /// </summary>
    public string? Url { get; private set; }

    /// <summary>The Unix socket the gateway also listens on (<see cref="GatewayOptions.UnixSocket"/>), or null.</summary>
    public string? UnixSocketPath { get; private set; }

    /// <summary>The bearer token clients must send (<c>Authorization: Bearer TOKEN</c>); new for every start.</summary>
    public string Token => _context.Token.Value;

    /// <summary>The 0600 file the token is stored in (removed when the gateway stops), or null if none was written.</summary>
    public string? TokenFile { get; private set; }

    /// <summary>Counters since the start.</summary>
    public GatewayStatistics Statistics => _context.Statistics;

    /// <summary>Every endpoint as "METHOD /route", from the routing table (the OpenAPI and auth tests iterate it).</summary>
    internal IReadOnlyList<string> Endpoints => _endpoints?.Endpoints ?? [];

    /// <summary>The connection cap and counts of a self-hosted gateway (null when mounted).</summary>
    internal ConnectionGuard? Connections => _connections;

    /// <summary>Starts a self-hosted gateway and returns once it listens and its token file is written.</summary>
    /// <exception cref="ArgumentException">An option is out of range or unsafe (another address than loopback without a certificate), or a contract cannot be used.</exception>
    /// <exception cref="IOException">The address and port cannot be bound (in use, or not an address of this machine).</exception>
    /// <exception cref="UnauthorizedAccessException">The token folder belongs to another user or is open to others.</exception>
    public static async Task<IpcGateway> StartAsync(GatewayOptions? options = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new GatewayOptions()).Clone();
        options.Validate(selfHosted: true);
        var hosts = new HostCheck(IPAddress.IsLoopback(options.Address), [.. options.HostNames, .. HostCheck.NamesOf(options.Certificate)]);
        IpcGateway gateway = Create(options, hosts);
        try
        {
            await gateway.ListenAsync(cancellationToken).ConfigureAwait(false);
            return gateway;
        }
        catch
        {
            await gateway.StopAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A gateway to be mounted in an app (<c>AddIpcGateway</c>); it serves once <see cref="Map"/>ped.</summary>
    internal static IpcGateway CreateMounted(GatewayOptions options)
    {
        options = options.Clone();
        options.Validate(selfHosted: false);
        return Create(options, new HostCheck(loopbackOnly: false, options.HostNames));
    }

    /// <summary>Maps the endpoints under <paramref name="prefix"/> (a route group) of a host app.</summary>
    internal void Map(IEndpointRouteBuilder routes, string prefix)
    {
        if (_endpoints is not null)
        {
            throw new InvalidOperationException("This gateway is mapped already; MapIpcGateway can be called once.");
        }

        _endpoints = new GatewayEndpoints(_context, _channels, new GatewayGuard(_context), prefix);
        _endpoints.Map(routes);
        GatewayLog.Mounted(_logger, prefix);
    }

    /// <summary>When the host app starts: writes the token file if one was asked for.</summary>
    internal void OnMountedStart()
    {
        if (_context.Options.WriteTokenFile && _context.Options.TokenFile is { } path)
        {
            TokenFile = Http.TokenFile.Write(path, Token, defaultFolder: false);
        }
    }

    /// <summary>When the host app begins to stop: WebSocket clients are closed (1001) so they do not hold the server's shutdown.</summary>
    internal void OnStopping() => _stopping.Cancel();

    /// <summary>
    /// Stops: WebSocket clients are closed (1001), new connections refused, requests in flight get up to 5 s to finish,
    /// every ring role is released and pipe connection closed, and the token file is removed.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_app is not null)
            {
                using var timeout = new CancellationTokenSource(s_shutdownTimeout);
                await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            await _channels.DisposeAsync().ConfigureAwait(false);
            if (TokenFile is not null)
            {
                Http.TokenFile.Delete(TokenFile, _defaultTokenFolder);
            }

            if (_app is not null)
            {
                await _app.DisposeAsync().ConfigureAwait(false);
            }

            if (UnixSocketPath is not null)
            {
                DeleteQuietly(UnixSocketPath);
            }

            _connections?.Dispose();
            _stopping.Dispose();
            GatewayLog.Stopped(_logger, Statistics.MessagesIn, Statistics.MessagesOut, Statistics.Problems);
        }
    }

    /// <summary>Stops the gateway (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static IpcGateway Create(GatewayOptions options, HostCheck hosts)
    {
        MessageCodec codec;
        try
        {
            codec = new MessageCodec(options.Contracts);
        }
        catch (InvalidOperationException exception)
        {
            throw new ArgumentException(exception.Message, nameof(options), exception);
        }

        ILogger logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("IpcKit.Gateway");
        var stopping = new CancellationTokenSource();
        var context = new GatewayContext(options, GatewayToken.Generate(), hosts, codec, new GatewayStatistics(), logger, stopping.Token);
        return new IpcGateway(context, stopping);
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        GatewayOptions options = _context.Options;
        _connections = new ConnectionGuard(options.MaxConnections ?? ConnectionGuard.DefaultCap(), options.AnonymousConnectionTimeout, _logger);
        if (options.UnixSocket && OperatingSystem.IsLinux())
        {
            UnixSocketPath = PrepareUnixSocket(options);
        }

        _app = Build(options, _connections, UnixSocketPath, _logger);
        var guard = new GatewayGuard(_context);
        _app.UseRouting();
        _app.Use(next => context => guard.InvokeAsync(context, next));
        _endpoints = new GatewayEndpoints(_context, _channels, guard: null, prefix: "");
        _endpoints.Map(_app);
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);

        int port = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        Url = string.Create(CultureInfo.InvariantCulture, $"{(options.Certificate is null ? "http" : "https")}://{UrlHost(options)}:{port}");
        if (options.WriteTokenFile)
        {
            _defaultTokenFolder = options.TokenFile is null;
            TokenFile = Http.TokenFile.Write(options.TokenFile ?? Http.TokenFile.DefaultPath(port), Token, _defaultTokenFolder);
        }

        GatewayLog.Listening(_logger, Url);
    }

    /// <summary>The Unix socket's path: gateway-PID.sock in the per-user folder (made 0700 and checked), a stale file removed.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string PrepareUnixSocket(GatewayOptions options)
    {
        string path = options.UnixSocketPathOverride ?? Path.Combine(Http.TokenFile.DefaultFolder(), string.Create(CultureInfo.InvariantCulture, $"gateway-{Environment.ProcessId}.sock"));
        if (options.UnixSocketPathOverride is null)
        {
            IpcKit.Pipes.PipeEndpoint.EnsureFolder(Path.GetDirectoryName(path)!);
        }

        // In our own folder, a file at our pid's name is a socket of an earlier process with this pid, long dead.
        File.Delete(path);
        return path;
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Its folder went first; nothing is left to clean.
        }
    }

    /// <summary>The host part of <see cref="Url"/>: the address, or for a wildcard address the first host name (else loopback).</summary>
    private static string UrlHost(GatewayOptions options)
    {
        IPAddress address = options.Address;
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            string? name = options.HostNames.Concat(HostCheck.NamesOf(options.Certificate)).FirstOrDefault();
            if (name is not null)
            {
                return name;
            }

            address = address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
    }

    /// <summary>The Unix-socket listener: HTTP/1.1, for processes of this user only (PeerUserCheck).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void ListenUnixSocket(KestrelServerOptions kestrel, string path, ILogger logger)
    {
        var peers = new PeerUserCheck(logger);
        kestrel.ListenUnixSocket(path, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => connection => peers.OnConnectionAsync(connection, next));
        });
    }

    private static WebApplication Build(GatewayOptions options, ConnectionGuard connections, string? unixSocket, ILogger logger)
    {
        // The empty builder reads no configuration (no appsettings.json from the working folder, no environment
        // variables): the gateway does exactly what its options say, and logs only through the given factory.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "IpcKit.Gateway" });
        builder.Services.AddSingleton(options.LoggerFactory ?? NullLoggerFactory.Instance);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = s_shutdownTimeout);

        // Not the console lifetime: the process's SIGINT and SIGTERM belong to the program around the gateway.
        builder.Services.AddSingleton<IHostLifetime, Hosting.SignalFreeHostLifetime>();
        builder.WebHost.UseKestrelCore();
        if (options.Certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;

            // The ConnectionGuard counts connections itself (it evicts anonymous ones at the cap instead of refusing
            // token holders); Kestrel's own limit would refuse before it could.
            kestrel.Limits.MaxConcurrentConnections = null;
            kestrel.Limits.MaxConcurrentUpgradedConnections = connections.Cap;
            kestrel.Listen(new IPEndPoint(options.Address, options.Port), listen =>
            {
                // HTTP/1.1 only: a connection is trusted per connection (ConnectionGuard), and HTTP/2 would multiplex
                // anonymous and authenticated requests on one.
                listen.Protocols = HttpProtocols.Http1;

                // Outside TLS, so a client that stalls its TLS handshake is an anonymous connection like any other.
                listen.Use(next => connection => connections.OnConnectionAsync(connection, next));
                if (options.Certificate is { } certificate)
                {
                    listen.UseHttps(certificate);
                }
            });
            if (unixSocket is not null && OperatingSystem.IsLinux())
            {
                ListenUnixSocket(kestrel, unixSocket, logger);
            }
        });
        return builder.Build();
    }
}
