using IpcKit.Extensions.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Health checks of IpcKit's channels: <c>services.AddHealthChecks().AddIpcKit()</c>.</summary>
public static class IpcKitHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check for every pipe, ring and paired process registered with <c>AddIpcKit()</c> (before or after this
    /// call), named "ipckit:KIND:NAME" and tagged "ipckit": a pipe client is healthy while connected, a pipe server while
    /// it listens, a ring consumer or producer while its peer process is attached and alive (else Degraded), a paired
    /// process while it runs.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="failureStatus">The status a failed check reports; Unhealthy by default.</param>
    public static IHealthChecksBuilder AddIpcKit(this IHealthChecksBuilder builder, HealthStatus? failureStatus = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IpcKitRegistry registry = builder.Services.AddIpcKit().Registry;

        // Registered when the options are first read, so channels added after this call are covered too.
        builder.Services.AddSingleton<IConfigureOptions<HealthCheckServiceOptions>>(provider => new ConfigureOptions<HealthCheckServiceOptions>(options =>
        {
            foreach (ChannelRegistration channel in registry.Channels)
            {
                string kind = channel.Kind switch
                {
                    ChannelKind.PipeServer => "pipe-server",
                    ChannelKind.PipeClient => "pipe-client",
                    ChannelKind.RingConsumer => "ring-consumer",
                    _ => "ring-producer",
                };
                options.Registrations.Add(new HealthCheckRegistration(
                    $"ipckit:{kind}:{channel.Name}", _ => new IpcKitHealthCheck(channel, null, provider), failureStatus, ["ipckit", kind]));
            }

            foreach (PairedProcessRegistration process in registry.Processes)
            {
                options.Registrations.Add(new HealthCheckRegistration(
                    $"ipckit:paired-process:{process.Name}", _ => new IpcKitHealthCheck(null, process.Name, provider), failureStatus, ["ipckit", "paired-process"]));
            }
        }));
        return builder;
    }
}
