using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A raw message handler, called with the body in place (no copy, no allocation).</summary>
internal sealed class RawMessageHandler : MessageHandler
{
    private readonly PipeRawMessageHandler _handler;

    internal RawMessageHandler(PipeRawMessageHandler handler)
    {
        _handler = handler;
    }

    internal override ValueTask InvokeAsync(PipeConnection connection, in ReadOnlySequence<byte> body)
    {
        _handler(connection, body);
        return default;
    }
}
