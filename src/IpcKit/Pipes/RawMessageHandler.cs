namespace IpcKit.Pipes;

/// <summary>A raw message handler: the body in place (no copy, no allocation), valid until the handler's task completes.</summary>
internal sealed class RawMessageHandler(Func<IpcMessage, PipeConnection, CancellationToken, ValueTask> handler) : MessageHandler
{
    internal override bool KeepsBody => true;

    internal override ValueTask Invoke(PipeConnection connection, int typeId, ReadOnlyMemory<byte> body) =>
        handler(new IpcMessage(typeId, body), connection, connection.ClosedToken);
}
