using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A message handler for a MessagePack contract; the next message of the connection waits for it.</summary>
internal sealed class TypedMessageHandler<T> : MessageHandler
{
    private readonly Func<T, PipeConnection, ValueTask> _handler;

    internal TypedMessageHandler(Func<T, PipeConnection, ValueTask> handler)
    {
        _handler = handler;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, in ReadOnlySequence<byte> body) =>
        _handler(PipeBody.Deserialize<T>(body, "message"), connection);
}
