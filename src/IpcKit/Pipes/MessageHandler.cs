using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A server's handler for one-way messages of one type, run in order on the connection's receive loop.</summary>
internal abstract class MessageHandler
{
    internal abstract ValueTask InvokeAsync(PipeConnection connection, in ReadOnlySequence<byte> body);

    /// <summary>The call the connection makes: a handler that serves several type ids (a forwarder) overrides it to learn which came.</summary>
    internal virtual ValueTask InvokeAsync(PipeConnection connection, int typeId, in ReadOnlySequence<byte> body) => InvokeAsync(connection, body);
}
