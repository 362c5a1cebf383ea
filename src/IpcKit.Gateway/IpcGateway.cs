using System.Net;
using IpcKit.Gateway.Channels;
using IpcKit.Gateway.Http;
using IpcKit.Gateway.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Gateway;

/// <summary>
/// A REST/JSON and WebSocket gateway to IpcKit rings and pipe channels, on Kestrel: non-.NET processes send and receive
/// the same contracts as JSON. It listens on loopback unless told otherwise, and every endpoint but /health and
/// /openapi.json requires the bearer token it generates at start (see <see cref="Token"/> and <see cref="TokenFile"/>).
/// </summary>
/// <remarks>The endpoints, the JSON shapes and the policies are described in docs/gateway.md and served at /openapi.json.</remarks>
public sealed class IpcGateway : IAsyncDisposable
{
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;
    private readonly ChannelRegistry _channels;
    private readonly bool _defaultTokenFolder;
    private readonly ILoggerFactory _loggerFactory;
    private int _stopped;

    private IpcGateway(
        WebApplication app, CancellationTokenSource stopping, ChannelRegistry channels, GatewayStatistics statistics,
        ILoggerFactory loggerFactory, Uri url, string token, string? tokenFile, bool defaultTokenFolder)
    {
        _app = app;
        _stopping = stopping;
        _channels = channels;
        _loggerFactory = loggerFactory;
        Statistics = statistics;
        Url = url;
        Token = token;
        TokenFile = tokenFile;
        _defaultTokenFolder = defaultTokenFolder;
    }

    /// <summary>Where the gateway listens, for example <c>http://127.0.0.1:43117</c>.</summary>
    public Uri Url { get; }

    /// <summary>The bearer token clients must send (<c>Authorization: Bearer TOKEN</c>); new for every start.</summary>
    public string Token { get; }

    /// <summary>The 0600 file the token is stored in (removed when the gateway stops), or null if none was written.</summary>
    public string? TokenFile { get; }

    /// <summary>Counters since the start.</summary>
    public GatewayStatistics Statistics { get; }

    /// <summary>Every endpoint as "METHOD /route", from the routing table (the OpenAPI test compares the document with it).</summary>
    internal IReadOnlyList<string> Endpoints =>
        [.. ((IEndpointRouteBuilder)_app).DataSources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(method => $"{method} /{endpoint.RoutePattern.RawText!.TrimStart('/')}"))];

    /// <summary>Starts a gateway and returns once it listens and its token file is written.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or a contract cannot be used (for example it has a member called "type").</exception>
    /// <exception cref="IOException">The address and port cannot be bound (in use, or not an address of this machine).</exception>
    public static async Task<IpcGateway> StartAsync(GatewayOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GatewayOptions();
        options.Validate();
        MessageCodec codec;
        try
        {
            codec = new MessageCodec(options.Contracts);
        }
        catch (InvalidOperationException exception)
        {
            throw new ArgumentException(exception.Message, nameof(options), exception);
        }

        GatewayToken token = GatewayToken.Generate();
        var statistics = new GatewayStatistics();
        ILoggerFactory loggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        ILogger logger = loggerFactory.CreateLogger("IpcKit.Gateway");
        var stopping = new CancellationTokenSource();
        var context = new GatewayContext(options, codec, statistics, logger, stopping.Token);
        var channels = new ChannelRegistry(context);
        WebApplication? app = null;
        string? tokenFile = null;
        bool defaultFolder = options.TokenFile is null;
        try
        {
            app = Build(options, loggerFactory);
            app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15), KeepAliveTimeout = TimeSpan.FromSeconds(30) });
            app.UseRouting();
            app.UseMiddleware<GatewayMiddleware>(token, statistics, logger, options.Address, stopping.Token);
            new GatewayEndpoints(context, channels).Map(app);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            int port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            var url = new Uri($"http://{(options.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{options.Address}]" : options.Address.ToString())}:{port}");
            if (options.WriteTokenFile)
            {
                tokenFile = Http.TokenFile.Write(options.TokenFile ?? Http.TokenFile.DefaultPath(port), token.Value, defaultFolder);
            }

            if (logger.IsEnabled(LogLevel.Information))
            {
                logger.LogInformation("Listening on {Url}", url);
            }

            return new IpcGateway(app, stopping, channels, statistics, loggerFactory, url, token.Value, tokenFile, defaultFolder);
        }
        catch
        {
            await stopping.CancelAsync().ConfigureAwait(false);
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            await channels.DisposeAsync().ConfigureAwait(false);
            stopping.Dispose();
            throw;
        }
    }

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

        await _stopping.CancelAsync().ConfigureAwait(false);
        using (var timeout = new CancellationTokenSource(s_shutdownTimeout))
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        await _channels.DisposeAsync().ConfigureAwait(false);
        if (TokenFile is not null)
        {
            Http.TokenFile.Delete(TokenFile, _defaultTokenFolder);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _loggerFactory.CreateLogger("IpcKit.Gateway").LogInformation("Stopped");
    }

    /// <summary>Stops the gateway (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static WebApplication Build(GatewayOptions options, ILoggerFactory loggerFactory)
    {
        // The empty builder reads no configuration (no appsettings.json from the working folder, no environment
        // variables): the gateway does exactly what its options say, and logs only through the given factory.
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "IpcKit.Gateway" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = s_shutdownTimeout);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = options.MaxConnections;
            kestrel.Listen(new IPEndPoint(options.Address, options.Port));
        });
        return builder.Build();
    }
}
