namespace IpcKit.Pipes;

/// <summary>A message handler for a MessagePack contract; the next message of the connection waits for it.</summary>
internal sealed class TypedMessageHandler<T>(Func<T, PipeConnection, CancellationToken, ValueTask> handler) : MessageHandler
{
    internal override bool KeepsBody => false;

    internal override ValueTask Invoke(PipeConnection connection, int typeId, ReadOnlyMemory<byte> body)
    {
        T message = PipeBody.Deserialize<T>(body, "message");
        return handler(message, connection, connection.ClosedToken);
    }
}
