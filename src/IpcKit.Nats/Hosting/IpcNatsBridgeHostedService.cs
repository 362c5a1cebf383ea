using Microsoft.Extensions.Hosting;

namespace IpcKit.Nats.Hosting;

// The bridge as a hosted service: started with the host (a route that cannot start fails the host's start), stopped
// with it (messages in hand finish within the host's shutdown timeout). A route that fails while the host runs stops
// the bridge (the bridge logs it) and then the host, with the exit code the failure maps to, so a supervisor restarts
// the whole process instead of it running on half bridged.
internal sealed class IpcNatsBridgeHostedService : IHostedService
{
    private readonly IpcNatsBridge _bridge;
    private readonly IHostApplicationLifetime _lifetime;
    private int _stopping;

    public IpcNatsBridgeHostedService(IpcNatsBridge bridge, IHostApplicationLifetime lifetime)
    {
        _bridge = bridge;
        _lifetime = lifetime;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _bridge.StartAsync(cancellationToken).ConfigureAwait(false);
        _ = _bridge.Completion.ContinueWith(
            completion =>
            {
                if (completion.Exception?.InnerException is Exception failure && Volatile.Read(ref _stopping) == 0)
                {
                    if (Environment.ExitCode == 0)
                    {
                        Environment.ExitCode = (int)IpcExitCodes.FromException(failure);
                    }

                    _lifetime.StopApplication();
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _stopping, 1);
        return _bridge.StopAsync(cancellationToken);
    }
}
