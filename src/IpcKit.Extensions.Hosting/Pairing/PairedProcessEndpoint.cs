using IpcKit.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// A child process the host starts and stops: started once the host's own channels are up (so the child finds them),
// given every channel of this host under its registered name (unless its options name that key already), and waited
// for until it signals ready. When the host stops, the child is stopped first (a stop request on the pairing's control
// pipe, then its tree killed after its StopTimeout or the host's shutdown timeout, whichever ends first), before this
// host's servers drain. A child that exits while the host runs stops the host: the pair lives and dies together.
internal sealed class PairedProcessEndpoint : IAsyncDisposable
{
    private readonly PairedProcessRegistration _registration;
    private readonly IReadOnlyDictionary<string, string> _channels;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private PairedProcess? _process;
    private Task _watch = Task.CompletedTask;

    internal PairedProcessEndpoint(PairedProcessRegistration registration, IReadOnlyDictionary<string, string> channels, IServiceProvider services)
    {
        _registration = registration;
        _channels = channels;
        _services = services;
        _logger = Loggers.Create(services.GetService<ILoggerFactory>());
    }

    internal string Name => _registration.Name;

    /// <summary>The child's pid once started.</summary>
    internal int? ProcessId => _process?.Id;

    internal bool IsRunning => _process is { HasExited: false };

    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        PairedProcessOptions options = _registration.Options(_services);
        foreach ((string key, string name) in _channels)
        {
            options.Channels.TryAdd(key, name);
        }

        _process = await PairedProcess.StartAsync(options, cancellationToken).ConfigureAwait(false);
        HostingLog.PairedProcessStarted(_logger, Name, _process.Id);
        _watch = WatchAsync(_process, _services.GetRequiredService<IHostApplicationLifetime>());
    }

    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_process is not PairedProcess process)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        try
        {
            int exitCode = await process.StopAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            HostingLog.PairedProcessStopped(_logger, Name, process.Id, exitCode);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout passed: StopAsync killed the tree without waiting out the grace period.
            HostingLog.PairedProcessStopped(_logger, Name, process.Id, process.ExitCode ?? -1);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        PairedProcess? process = Interlocked.Exchange(ref _process, null);
        if (process is null)
        {
            return;
        }

        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        await process.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task WatchAsync(PairedProcess process, IHostApplicationLifetime lifetime)
    {
        int exitCode;
        try
        {
            exitCode = await process.WaitForExitAsync(Timeout.InfiniteTimeSpan, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        HostingLog.PairedProcessExited(_logger, Name, process.Id, exitCode, Tail(process.StandardError));
        if (exitCode != 0 && Environment.ExitCode == 0)
        {
            Environment.ExitCode = (int)IpcExitCode.PeerGone;
        }

        lifetime.StopApplication();
    }

    private static string Tail(string text) => text.Length <= 2000 ? text.TrimEnd() : "..." + text[^2000..].TrimEnd();
}
