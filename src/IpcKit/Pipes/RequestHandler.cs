namespace IpcKit.Pipes;

/// <summary>A handler for one request type: reads the body, runs the application's code, has the answer sent.</summary>
internal abstract class RequestHandler
{
    /// <summary>
    /// Runs on the connection's receive loop with the body in place in the receive buffer. Reading the body happens
    /// here (a bad body is the peer's protocol violation: <see cref="IpcProtocolException"/>); a handler that completes
    /// synchronously is answered at once, one that awaits runs on while the loop reads on, and is answered when done.
    /// </summary>
    internal abstract void Invoke(PipeDispatcher dispatcher, uint correlationId, int typeId, ReadOnlyMemory<byte> body, ReceiveBuffer buffer);
}
