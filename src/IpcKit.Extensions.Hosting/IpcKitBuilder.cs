using System.Buffers;
using IpcKit.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// Registers pipes, rings and paired processes with the host (returned by <c>services.AddIpcKit()</c>). Each channel has
/// a name: the key of its options in configuration (<c>IpcKit:Pipes:NAME</c>, <c>IpcKit:Rings:NAME</c>), the key to
/// resolve it by, the key a paired child receives its OS name under, and its OS name unless the options set another.
/// </summary>
public sealed class IpcKitBuilder
{
    private static readonly SearchValues<char> s_nameChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

    internal IpcKitBuilder(IServiceCollection services, IpcKitRegistry registry)
    {
        Services = services;
        Registry = registry;
    }

    /// <summary>The app's services.</summary>
    public IServiceCollection Services { get; }

    internal IpcKitRegistry Registry { get; }

    /// <summary>
    /// A pipe server that listens while the host runs, with its request and message handlers (<c>server.AddHandler&lt;T&gt;()</c>).
    /// On stop it takes no new work and waits, within the host's shutdown timeout, for the handlers that started.
    /// </summary>
    /// <param name="name">Its name (1 to 64 of A-Z a-z 0-9 _).</param>
    /// <param name="configure">Adds handlers and sets options in code (applied after configuration).</param>
    /// <exception cref="ArgumentException">The name is not valid, is taken by another pipe server, or a handler is not one.</exception>
    public IpcKitBuilder AddPipeServer(string name, Action<PipeServerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ChannelRegistration channel = Register(name, ChannelKind.PipeServer, "Pipes");
        var builder = new PipeServerBuilder(this, channel);
        configure(builder);
        return this;
    }

    /// <summary>
    /// A pipe client that connects in the background when the host starts and reconnects whenever its server goes
    /// away, resolvable as <c>[FromKeyedServices(name)] HostedPipeClient</c>.
    /// </summary>
    /// <param name="name">Its name (1 to 64 of A-Z a-z 0-9 _).</param>
    /// <param name="configure">Sets options in code (applied after configuration).</param>
    public IpcKitBuilder AddPipeClient(string name, Action<HostedPipeClientOptions>? configure = null)
    {
        ChannelRegistration channel = Register(name, ChannelKind.PipeClient, "Pipes");
        Configure(channel, configure);
        Services.AddKeyedSingleton(name, (provider, _) => new HostedPipeClient(
            name,
            provider.GetRequiredService<PairingState>().Resolve(name, Options<HostedPipeClientOptions>(provider, name).Name),
            Options<HostedPipeClientOptions>(provider, name),
            provider.GetService<ILoggerFactory>()));
        return this;
    }

    /// <summary>
    /// A pipe client as <see cref="AddPipeClient(string, Action{HostedPipeClientOptions}?)"/>, and a typed client
    /// <typeparamref name="TClient"/> (transient) created with it: a class whose constructor takes a
    /// <see cref="HostedPipeClient"/> (and any other service), as a typed HttpClient takes an HttpClient.
    /// </summary>
    public IpcKitBuilder AddPipeClient<TClient>(string name, Action<HostedPipeClientOptions>? configure = null)
        where TClient : class
    {
        AddPipeClient(name, configure);
        Services.AddTransient(provider => ActivatorUtilities.CreateInstance<TClient>(provider, provider.GetRequiredKeyedService<HostedPipeClient>(name)));
        return this;
    }

    /// <summary>
    /// A ring consumer that receives while the host runs and hands each message to the handler for its type
    /// (<c>consumer.AddHandler&lt;T&gt;()</c>), one at a time, in order. It creates the ring unless its options say
    /// otherwise, waits for a new writer whenever one leaves, and drains what is committed when the host stops.
    /// </summary>
    public IpcKitBuilder AddRingConsumer(string name, Action<RingConsumerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ChannelRegistration channel = Register(name, ChannelKind.RingConsumer, "Rings");
        configure(new RingConsumerBuilder(this, channel));
        return this;
    }

    /// <summary>
    /// A ring producer, resolvable as <c>[FromKeyedServices(name)] HostedRingProducer</c>: it attaches when the host
    /// starts (waiting for the ring to be created unless its options create it) and detaches when the host stops.
    /// </summary>
    public IpcKitBuilder AddRingProducer(string name, Action<HostedRingProducerOptions>? configure = null)
    {
        ChannelRegistration channel = Register(name, ChannelKind.RingProducer, "Rings");
        Configure(channel, configure);
        Services.AddKeyedSingleton(name, (provider, _) => new HostedRingProducer(
            name,
            provider.GetRequiredService<PairingState>().Resolve(name, Options<HostedRingProducerOptions>(provider, name).Name),
            Options<HostedRingProducerOptions>(provider, name),
            provider.GetService<ILoggerFactory>()));
        return this;
    }

    /// <summary>
    /// A child process started once this host's channels are up, and stopped before they drain when the host stops.
    /// It receives the OS name of every channel of this host under the channel's name (<c>IPCKIT_CHANNEL_CALC</c>),
    /// unless its options set that key. If it exits while the host runs, the host stops.
    /// </summary>
    /// <param name="name">A name for the logs.</param>
    /// <param name="options">Creates the options (program, arguments, timeouts) when the host starts.</param>
    public IpcKitBuilder AddPairedProcess(string name, Func<IServiceProvider, PairedProcessOptions> options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        if (Registry.Processes.Exists(process => process.Name == name))
        {
            throw new ArgumentException($"A paired process named '{name}' is registered already.", nameof(name));
        }

        Registry.Processes.Add(new PairedProcessRegistration(name, options));
        return this;
    }

    internal void Configure<TOptions>(ChannelRegistration channel, Action<TOptions>? configure)
        where TOptions : class
    {
        if (configure is not null)
        {
            Services.Configure(channel.Name, configure);
        }
    }

    private static TOptions Options<TOptions>(IServiceProvider provider, string name) =>
        provider.GetRequiredService<IOptionsMonitor<TOptions>>().Get(name);

    private ChannelRegistration Register(string name, ChannelKind kind, string section)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 64 || name.AsSpan().ContainsAnyExcept(s_nameChars))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid channel name: it takes 1 to 64 of A-Z a-z 0-9 _ (it is a configuration key and the key a paired child receives the channel under). The OS name can be any valid pipe or ring name: set it in the options' Name.",
                nameof(name));
        }

        var channel = new ChannelRegistration(name, kind, $"{Registry.SectionPath}:{section}:{name}");
        if (Registry.Find(name, kind) is not null)
        {
            throw new ArgumentException($"A {channel.Describe()} is registered already.", nameof(name));
        }

        Registry.Channels.Add(channel);
        switch (kind)
        {
            case ChannelKind.PipeServer:
                Bind<HostedPipeServerOptions>(channel);
                break;
            case ChannelKind.PipeClient:
                Bind<HostedPipeClientOptions>(channel);
                break;
            case ChannelKind.RingConsumer:
                Bind<HostedRingConsumerOptions>(channel);
                break;
            default:
                Bind<HostedRingProducerOptions>(channel);
                break;
        }

        return channel;
    }

    /// <summary>Binds the channel's options to its configuration section (when the host has configuration), and validates them at start.</summary>
    private void Bind<TOptions>(ChannelRegistration channel)
        where TOptions : class
    {
        Services.AddOptions<TOptions>(channel.Name)
            .Configure<IServiceProvider>((options, provider) => provider.GetService<IConfiguration>()?.GetSection(channel.ConfigurationPath).Bind(options))
            .ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, ChannelOptionsValidator<TOptions>>());
    }
}
