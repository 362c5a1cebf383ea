using IpcKit.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IpcKit.Extensions.Hosting;

// Starts and stops everything registered with AddIpcKit, in an order that lets each side find the other.
//
// Start: pipe servers listen and ring consumers create and attach their rings first (a peer started after this host,
// or by it, finds them); then ring producers and pipe clients attach and connect (in the background when the other
// side is not there yet); then paired children start, given every channel's name, and are waited for until ready. A
// failure stops what had started and fails the host's start. A host that is itself a paired child signals ready
// once the whole host has started, and stops when its parent asks or dies.
//
// Stop, within the host's shutdown timeout (the token): paired children first (they finish their calls into this
// host's servers and detach from its rings), then pipe servers drain their handlers and ring consumers drain what is
// committed, side by side; then clients and producers close.
internal sealed class IpcKitHostedService : IHostedService
{
    private readonly IpcKitRegistry _registry;
    private readonly IServiceProvider _services;
    private readonly PairingState _pairing;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly List<PipeServerEndpoint> _servers = [];
    private readonly List<RingConsumerEndpoint> _consumers = [];
    private readonly List<HostedRingProducer> _producers = [];
    private readonly List<HostedPipeClient> _clients = [];
    private readonly List<PairedProcessEndpoint> _processes = [];
    private readonly List<CancellationTokenRegistration> _registrations = [];

    public IpcKitHostedService(IpcKitRegistry registry, IServiceProvider services, PairingState pairing, IHostApplicationLifetime lifetime)
    {
        _registry = registry;
        _services = services;
        _pairing = pairing;
        _lifetime = lifetime;
        _logger = Loggers.Create(services.GetService<ILoggerFactory>());
    }

    internal IReadOnlyList<PipeServerEndpoint> Servers => _servers;

    internal IReadOnlyList<RingConsumerEndpoint> Consumers => _consumers;

    internal IReadOnlyList<PairedProcessEndpoint> Processes => _processes;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            AttachToParent();
            foreach (ChannelRegistration channel in _registry.Channels.Where(c => c.Kind == ChannelKind.PipeServer))
            {
                HostedPipeServerOptions options = Options<HostedPipeServerOptions>(channel);
                var server = new PipeServerEndpoint(channel, _pairing.Resolve(channel.Name, options.Name), options, _services);
                _servers.Add(server);
                server.Start();
            }

            foreach (ChannelRegistration channel in _registry.Channels.Where(c => c.Kind == ChannelKind.RingConsumer))
            {
                HostedRingConsumerOptions options = Options<HostedRingConsumerOptions>(channel);
                var consumer = new RingConsumerEndpoint(channel, _pairing.Resolve(channel.Name, options.Name), options, _services);
                _consumers.Add(consumer);
                consumer.Start();
            }

            foreach (ChannelRegistration channel in _registry.Channels.Where(c => c.Kind == ChannelKind.RingProducer))
            {
                HostedRingProducer producer = _services.GetRequiredKeyedService<HostedRingProducer>(channel.Name);
                _producers.Add(producer);
                producer.Start();
            }

            foreach (ChannelRegistration channel in _registry.Channels.Where(c => c.Kind == ChannelKind.PipeClient))
            {
                HostedPipeClient client = _services.GetRequiredKeyedService<HostedPipeClient>(channel.Name);
                _clients.Add(client);
                client.Start();
            }

            Dictionary<string, string> names = ChannelNames();
            foreach (PairedProcessRegistration registration in _registry.Processes)
            {
                var process = new PairedProcessEndpoint(registration, names, _services);
                _processes.Add(process);
                await process.StartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await DisposeAllAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (CancellationTokenRegistration registration in _registrations)
        {
            await registration.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_processes.Select(process => process.StopAsync(cancellationToken))).ConfigureAwait(false);
        await Task.WhenAll(
            _servers.Select(server => server.StopAsync(cancellationToken))
                .Concat(_consumers.Select(consumer => consumer.StopAsync(cancellationToken)))).ConfigureAwait(false);
        await DisposeAllAsync().ConfigureAwait(false);
    }

    /// <summary>The OS name of every channel of this host, by registered name: what a paired child is given.</summary>
    internal Dictionary<string, string> ChannelNames()
    {
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (ChannelRegistration channel in _registry.Channels)
        {
            string? configured = channel.Kind switch
            {
                ChannelKind.PipeServer => Options<HostedPipeServerOptions>(channel).Name,
                ChannelKind.PipeClient => Options<HostedPipeClientOptions>(channel).Name,
                ChannelKind.RingConsumer => Options<HostedRingConsumerOptions>(channel).Name,
                _ => Options<HostedRingProducerOptions>(channel).Name,
            };
            names.TryAdd(channel.Name, _pairing.Resolve(channel.Name, configured));
        }

        return names;
    }

    private TOptions Options<TOptions>(ChannelRegistration channel) =>
        _services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(channel.Name);

    private void AttachToParent()
    {
        if (_pairing.Child is not PairedChild child)
        {
            return;
        }

        HostingLog.PairedChildAttached(_logger, child.ParentProcessId, string.Join(", ", child.Channels.Select(c => $"{c.Key}={c.Value}")));
        _registrations.Add(_lifetime.ApplicationStarted.Register(() =>
        {
            child.SignalReady();
            HostingLog.SignalledReady(_logger);
        }));
        _registrations.Add(child.StopRequested.Register(() =>
        {
            if (child.ParentDied)
            {
                HostingLog.ParentDied(_logger, child.ParentProcessId);
                if (Environment.ExitCode == 0)
                {
                    Environment.ExitCode = (int)IpcExitCode.PeerGone;
                }
            }
            else
            {
                HostingLog.ParentRequestedStop(_logger);
            }

            _lifetime.StopApplication();
        }));
    }

    private async Task DisposeAllAsync()
    {
        foreach (PairedProcessEndpoint process in _processes)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }

        foreach (PipeServerEndpoint server in _servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        foreach (RingConsumerEndpoint consumer in _consumers)
        {
            await consumer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (HostedPipeClient client in _clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }

        foreach (HostedRingProducer producer in _producers)
        {
            await producer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
