namespace IpcKit.Extensions.Hosting;

/// <summary>
/// Handles one-way messages of type <typeparamref name="T"/> from a pipe or a ring. Registered with
/// <c>AddHandler&lt;THandler&gt;()</c> on a pipe server or ring consumer; a new instance is resolved from a new DI
/// scope for every message, so it may take scoped services (a DbContext, a unit of work).
/// </summary>
/// <typeparam name="T">The message contract (a MessagePack type).</typeparam>
public interface IMessageHandler<in T>
{
    /// <summary>Handles one message. An exception is logged and the next message is handled; the message is not retried.</summary>
    /// <param name="message">The message, deserialized as untrusted data.</param>
    /// <param name="context">Where it came from: the channel, and the pipe connection when it came over a pipe.</param>
    /// <param name="cancellationToken">Cancelled when the connection closes or the host stops waiting for the handler.</param>
    ValueTask HandleAsync(T message, MessageContext context, CancellationToken cancellationToken);
}
