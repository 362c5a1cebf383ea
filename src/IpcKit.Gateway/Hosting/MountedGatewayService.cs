using Microsoft.Extensions.Hosting;

namespace IpcKit.Gateway.Hosting;

/// <summary>
/// Ties a mounted gateway to its host: the token file is written when the host starts; when it begins to stop, the
/// gateway's WebSocket clients are closed (1001) so the server's shutdown does not wait for them; when it stops, ring
/// roles and pipe connections are released and the token file is removed.
/// </summary>
internal sealed class MountedGatewayService : IHostedService
{
    private readonly IpcGateway _gateway;
    private readonly IHostApplicationLifetime _lifetime;
    private CancellationTokenRegistration _stopping;

    public MountedGatewayService(IpcGateway gateway, IHostApplicationLifetime lifetime)
    {
        _gateway = gateway;
        _lifetime = lifetime;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _gateway.OnMountedStart();
        _stopping = _lifetime.ApplicationStopping.Register(static gateway => ((IpcGateway)gateway!).OnStopping(), _gateway);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync().ConfigureAwait(false);
        await _gateway.StopAsync().ConfigureAwait(false);
    }
}
