using IpcKit.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds IpcKit to a generic host: <c>builder.Services.AddIpcKit().AddPipeServer(...)</c>.</summary>
public static class IpcKitServiceCollectionExtensions
{
    /// <summary>
    /// Adds IpcKit's hosted service and returns the builder to register pipes, rings and paired processes with.
    /// Options are read from the configuration section <paramref name="sectionPath"/> ("IpcKit":
    /// <c>IpcKit:Pipes:NAME</c>, <c>IpcKit:Rings:NAME</c>). When the process was started as a paired child, the host
    /// signals ready to its parent once started, stops when the parent asks or dies, and takes its channel names from
    /// the parent. Calling it again returns a builder over the same registrations.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="sectionPath">The configuration section with the options of every channel.</param>
    public static IpcKitBuilder AddIpcKit(this IServiceCollection services, string sectionPath = "IpcKit")
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        if (services.FirstOrDefault(service => service.ServiceType == typeof(IpcKitRegistry))?.ImplementationInstance is IpcKitRegistry existing)
        {
            return new IpcKitBuilder(services, existing);
        }

        var registry = new IpcKitRegistry(sectionPath);
        services.AddSingleton(registry);
        services.AddOptions();
        services.TryAddSingleton<PairingState>();
        services.TryAddSingleton<HostingMetrics>();
        services.TryAddSingleton<IpcKitHostedService>();
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<IpcKitHostedService>());
        return new IpcKitBuilder(services, registry);
    }
}
