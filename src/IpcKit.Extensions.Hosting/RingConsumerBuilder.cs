namespace IpcKit.Extensions.Hosting;

/// <summary>Adds handlers to a ring consumer and sets its options (see <see cref="IpcKitBuilder.AddRingConsumer"/>).</summary>
public sealed class RingConsumerBuilder
{
    private readonly IpcKitBuilder _builder;
    private readonly ChannelRegistration _channel;

    internal RingConsumerBuilder(IpcKitBuilder builder, ChannelRegistration channel)
    {
        _builder = builder;
        _channel = channel;
    }

    /// <summary>The consumer's name.</summary>
    public string Name => _channel.Name;

    /// <summary>
    /// Hands the ring's messages to <typeparamref name="THandler"/>: every <see cref="IMessageHandler{T}"/> it
    /// implements, by type id (request handlers it implements are for pipe servers and are ignored here). It is registered as a scoped service (unless the app registered it already) and
    /// resolved in a new scope per message.
    /// </summary>
    /// <exception cref="ArgumentException">It implements no <see cref="IMessageHandler{T}"/>, or a type it handles has a handler here already.</exception>
    public RingConsumerBuilder AddHandler<THandler>()
        where THandler : class
    {
        _channel.Handlers.Add(typeof(THandler), _builder.Services, requests: false, _channel.Describe());
        return this;
    }

    /// <summary>Sets options in code, after those from configuration.</summary>
    public RingConsumerBuilder Configure(Action<HostedRingConsumerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _builder.Configure(_channel, configure);
        return this;
    }
}
