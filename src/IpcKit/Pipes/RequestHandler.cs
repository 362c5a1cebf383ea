using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A server's handler for one request type: reads the body, runs the user's code, sends the answer.</summary>
internal abstract class RequestHandler
{
    /// <summary>
    /// Runs on the connection's receive loop. Reading the body happens here (a bad body is a protocol error that closes
    /// the connection); a handler that completes synchronously is answered at once, one that goes asynchronous runs on
    /// while the loop reads on. The returned task is the write of a synchronous answer (it waits when the client is
    /// not reading its answers, which stops reading from that client).
    /// </summary>
    internal abstract ValueTask InvokeAsync(PipeConnection connection, uint correlationId, in ReadOnlySequence<byte> body);

    /// <summary>The call the connection makes: a handler that serves several type ids (a forwarder) overrides it to learn which came.</summary>
    internal virtual ValueTask InvokeAsync(PipeConnection connection, uint correlationId, int typeId, in ReadOnlySequence<byte> body) =>
        InvokeAsync(connection, correlationId, body);
}
