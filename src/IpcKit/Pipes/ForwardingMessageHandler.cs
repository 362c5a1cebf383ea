namespace IpcKit.Pipes;

/// <summary>
/// A server's handler for one-way messages of any type id (<see cref="PipeServer.FallbackMessageHandler"/>): hands each
/// one to a forwarder, in order per connection (the next message waits for the forwarder's task). The body is the
/// receive buffer's, held until that task completes.
/// </summary>
internal sealed class ForwardingMessageHandler(Func<IpcMessage, PipeConnection, ValueTask> forward) : MessageHandler
{
    internal override bool KeepsBody => true;

    internal override ValueTask Invoke(PipeConnection connection, int typeId, ReadOnlyMemory<byte> body) =>
        forward(new IpcMessage(typeId, body), connection);
}
