namespace IpcKit.Extensions.Hosting;

/// <summary>Adds handlers to a pipe server and sets its options (see <see cref="IpcKitBuilder.AddPipeServer"/>).</summary>
public sealed class PipeServerBuilder
{
    private readonly IpcKitBuilder _builder;
    private readonly ChannelRegistration _channel;

    internal PipeServerBuilder(IpcKitBuilder builder, ChannelRegistration channel)
    {
        _builder = builder;
        _channel = channel;
    }

    /// <summary>The server's name.</summary>
    public string Name => _channel.Name;

    /// <summary>
    /// Hands the server's requests and messages to <typeparamref name="THandler"/>: every
    /// <see cref="IPipeRequestHandler{TRequest, TResponse}"/> and <see cref="IMessageHandler{T}"/> it implements. It is
    /// registered as a scoped service (unless the app registered it already) and resolved in a new scope per message.
    /// </summary>
    /// <exception cref="ArgumentException">It implements neither interface, or a type it handles has a handler here already.</exception>
    public PipeServerBuilder AddHandler<THandler>()
        where THandler : class
    {
        _channel.Handlers.Add(typeof(THandler), _builder.Services, requests: true, _channel.Describe());
        return this;
    }

    /// <summary>Sets options in code, after those from configuration.</summary>
    public PipeServerBuilder Configure(Action<HostedPipeServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _builder.Configure(_channel, configure);
        return this;
    }
}
