using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace IpcKit.Extensions.Hosting;

// One check per registered channel and paired process, each asking the live object: a pipe client is healthy while
// connected, a pipe server while it listens, a ring consumer while it receives and its writer is attached and alive,
// a ring producer while it is attached and its reader is alive, a paired process while it runs. A ring whose peer is
// not there is Degraded, not Unhealthy: the host itself works and the peer may be starting or restarting.
internal sealed class IpcKitHealthCheck : IHealthCheck
{
    private readonly ChannelRegistration? _channel;
    private readonly string? _process;
    private readonly IServiceProvider _services;

    internal IpcKitHealthCheck(ChannelRegistration? channel, string? process, IServiceProvider services)
    {
        _channel = channel;
        _process = process;
        _services = services;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        HealthStatus failure = context.Registration.FailureStatus;
        try
        {
            return Task.FromResult(Check(failure));
        }
        catch (Exception exception) when (exception is IpcException or UnauthorizedAccessException)
        {
            return Task.FromResult(new HealthCheckResult(failure, exception.Message, exception));
        }
    }

    private HealthCheckResult Check(HealthStatus failure)
    {
        var host = _services.GetRequiredService<IpcKitHostedService>();
        if (_process is not null)
        {
            PairedProcessEndpoint? process = host.Processes.FirstOrDefault(p => p.Name == _process);
            return process is { IsRunning: true }
                ? HealthCheckResult.Healthy($"paired process '{_process}' runs (pid {process.ProcessId})")
                : new HealthCheckResult(failure, $"paired process '{_process}' is not running");
        }

        ChannelRegistration channel = _channel!;
        switch (channel.Kind)
        {
            case ChannelKind.PipeClient:
                HostedPipeClient client = _services.GetRequiredKeyedService<HostedPipeClient>(channel.Name);
                return client.IsConnected
                    ? HealthCheckResult.Healthy($"{channel.Describe()} is connected to {client.PipeName}")
                    : new HealthCheckResult(failure, $"{channel.Describe()} is not connected to {client.PipeName}");
            case ChannelKind.PipeServer:
                PipeServerEndpoint? server = host.Servers.FirstOrDefault(s => s.Name == channel.Name);
                return server is { IsListening: true }
                    ? HealthCheckResult.Healthy($"{channel.Describe()} listens on {server.PipeName} ({server.ConnectionCount} connections)")
                    : new HealthCheckResult(failure, $"{channel.Describe()} is not listening");
            case ChannelKind.RingConsumer:
                RingConsumerEndpoint? consumer = host.Consumers.FirstOrDefault(c => c.Name == channel.Name);
                if (consumer is not { IsReceiving: true })
                {
                    return new HealthCheckResult(failure, $"{channel.Describe()} is not receiving");
                }

                return Peer(channel, consumer.RingName, writer: true);
            default:
                HostedRingProducer producer = _services.GetRequiredKeyedService<HostedRingProducer>(channel.Name);
                return producer.IsAttached
                    ? Peer(channel, producer.RingName, writer: false)
                    : new HealthCheckResult(failure, $"{channel.Describe()} is not attached to ring {producer.RingName}");
        }
    }

    private static HealthCheckResult Peer(ChannelRegistration channel, string ringName, bool writer)
    {
        (bool alive, int processId) = RingApi.Peer(ringName, writer);
        string peer = writer ? "writer" : "reader";
        return alive
            ? HealthCheckResult.Healthy($"{channel.Describe()}: the ring's {peer} (pid {processId}) is alive")
            : HealthCheckResult.Degraded($"{channel.Describe()}: ring {ringName} has no live {peer}");
    }
}
