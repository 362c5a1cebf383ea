namespace IpcKit.Pipes;

/// <summary>A handler for one-way messages of one type, run in order per connection.</summary>
internal abstract class MessageHandler
{
    /// <summary>Whether the body must stay valid until the handler's task completes (raw handlers get it in place).</summary>
    internal abstract bool KeepsBody { get; }

    /// <summary>Reads the body (a bad body is the peer's protocol violation: <see cref="IpcProtocolException"/>, thrown synchronously) and runs the handler.</summary>
    internal abstract ValueTask Invoke(PipeConnection connection, int typeId, ReadOnlyMemory<byte> body);
}
