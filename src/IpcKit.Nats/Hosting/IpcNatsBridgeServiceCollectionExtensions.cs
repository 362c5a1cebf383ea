using IpcKit.Nats;
using IpcKit.Nats.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The NATS bridge in a generic host: <c>builder.Services.AddIpcNatsBridge(...)</c>.</summary>
public static class IpcNatsBridgeServiceCollectionExtensions
{
    /// <summary>
    /// Runs an <see cref="IpcNatsBridge"/> with the host: started when the host starts (a route that cannot start fails
    /// the start), stopped when it stops (messages in hand finish within the host's shutdown timeout). If a route fails
    /// while the host runs, the host stops with the failure's exit code. The bridge is a singleton (for its
    /// <see cref="IpcNatsBridge.Statistics"/>) and logs through the host's <see cref="ILoggerFactory"/> unless its
    /// options name another.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="options">Creates the bridge's options (its routes, the NATS URL) when the host starts.</param>
    /// <exception cref="InvalidOperationException">A bridge is registered already: put every route in one bridge.</exception>
    public static IServiceCollection AddIpcNatsBridge(this IServiceCollection services, Func<IServiceProvider, IpcNatsBridgeOptions> options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        if (services.Any(service => service.ServiceType == typeof(IpcNatsBridge)))
        {
            throw new InvalidOperationException("An IpcNatsBridge is registered already; one bridge runs every route over one NATS connection, so put the routes in its options.");
        }

        services.AddSingleton(provider =>
        {
            IpcNatsBridgeOptions given = options(provider);
            return new IpcNatsBridge(new IpcNatsBridgeOptions
            {
                Url = given.Url,
                ClientName = given.ClientName,
                ConfigureNats = given.ConfigureNats,
                Routes = given.Routes,
                AttachTimeout = given.AttachTimeout,
                MaxReconnectAttempts = given.MaxReconnectAttempts,
                LoggerFactory = given.LoggerFactory ?? provider.GetService<ILoggerFactory>(),
            });
        });
        services.AddSingleton<IHostedService, IpcNatsBridgeHostedService>();
        return services;
    }
}
