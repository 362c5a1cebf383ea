using IpcKit.Gateway;
using IpcKit.Gateway.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an <see cref="IpcGateway"/> to mount in an ASP.NET Core app (see <c>MapIpcGateway</c>).</summary>
public static class IpcGatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds the gateway as a singleton <see cref="IpcGateway"/> (its token is <see cref="IpcGateway.Token"/>), started and
    /// stopped with the host. Options that describe a listener (address, port, certificate, connection cap) are the
    /// app's business when mounted and are ignored; the token, Host check, body and WebSocket limits apply as self-hosted.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets the options, for example registers the contracts (<c>options.Contracts.Add&lt;Order&gt;()</c>).</param>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddIpcGateway(this IServiceCollection services, Action<GatewayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<GatewayOptions> options = services.AddOptions<GatewayOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton(provider =>
        {
            GatewayOptions value = provider.GetRequiredService<IOptions<GatewayOptions>>().Value;
            value.LoggerFactory ??= provider.GetService<ILoggerFactory>();
            return IpcGateway.CreateMounted(value);
        });

        // Resolving the gateway when the host starts checks the options then (not at the first request).
        services.AddHostedService<MountedGatewayService>();
        return services;
    }
}
