using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>
/// A server's handler for one-way messages of any type id (<see cref="PipeServer.FallbackMessageHandler"/>): hands each
/// one, copied, to a forwarder, in order per connection (the next message waits for the forwarder's task).
/// </summary>
internal sealed class ForwardingMessageHandler : MessageHandler
{
    private readonly Func<IpcMessage, PipeConnection, ValueTask> _forward;

    internal ForwardingMessageHandler(Func<IpcMessage, PipeConnection, ValueTask> forward)
    {
        _forward = forward;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, in ReadOnlySequence<byte> body) =>
        throw new InvalidOperationException("A forwarding handler needs the type id of the message.");

    internal override ValueTask InvokeAsync(PipeConnection connection, int typeId, in ReadOnlySequence<byte> body) =>
        _forward(new IpcMessage(typeId, body.ToArray()), connection);
}
