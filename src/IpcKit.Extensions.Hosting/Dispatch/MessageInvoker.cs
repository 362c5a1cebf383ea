using IpcKit.Pipes;
using Microsoft.Extensions.DependencyInjection;

namespace IpcKit.Extensions.Hosting;

/// <summary>Calls an <see cref="IMessageHandler{T}"/> for one message type.</summary>
internal abstract class MessageInvoker : Invoker
{
    private protected MessageInvoker(Type messageType, Type handlerType)
        : base(messageType, handlerType)
    {
    }

    /// <summary>Registers this handler's message type on a pipe server, which deserializes it.</summary>
    internal abstract void Register(PipeServer server, PipeServerEndpoint endpoint);

    /// <summary>Deserializes a body read from a ring (untrusted data); the result is handed to <see cref="InvokeAsync"/>.</summary>
    /// <exception cref="IpcProtocolException">The body is not a valid message of this type.</exception>
    internal abstract object? Deserialize(ReadOnlyMemory<byte> body);

    /// <summary>Resolves the handler in a new scope and hands it the message.</summary>
    internal abstract ValueTask InvokeAsync(object? message, MessageContext context, IServiceScopeFactory scopes, CancellationToken cancellationToken);
}

/// <summary>Calls <typeparamref name="THandler"/> for messages of type <typeparamref name="T"/>.</summary>
internal sealed class MessageInvoker<T, THandler> : MessageInvoker
    where THandler : IMessageHandler<T>
{
    public MessageInvoker()
        : base(typeof(T), typeof(THandler))
    {
    }

    internal override void Register(PipeServer server, PipeServerEndpoint endpoint) =>
        PipeApi.HandleMessage<T>(server, (message, connection, cancellationToken) => endpoint.OnMessageAsync(this, message, connection, cancellationToken));

    internal override object? Deserialize(ReadOnlyMemory<byte> body) => new IpcMessage(TypeId, body).Deserialize<T>();

    internal override ValueTask InvokeAsync(object? message, MessageContext context, IServiceScopeFactory scopes, CancellationToken cancellationToken) =>
        InvokeAsync((T)message!, context, scopes, cancellationToken);

    internal static async ValueTask InvokeAsync(T message, MessageContext context, IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        AsyncServiceScope scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            THandler handler = scope.ServiceProvider.GetRequiredService<THandler>();
            await handler.HandleAsync(message, context, cancellationToken).ConfigureAwait(false);
        }
    }
}
