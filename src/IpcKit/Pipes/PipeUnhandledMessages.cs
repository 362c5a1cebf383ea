namespace IpcKit.Pipes;

/// <summary>What happens to a one-way message that no handler takes and no <c>ReceiveAllAsync</c> reader is reading.</summary>
public enum PipeUnhandledMessages
{
    /// <summary>
    /// Dropped at once: counted (<see cref="PipeStatistics.MessagesDropped"/>, the <c>ipckit.pipe.messages.dropped</c>
    /// metric), reported (<see cref="PipePeer.MessageDropped"/>) and logged. Start reading before you ask the peer for
    /// messages. The default: a message nobody takes never holds up the connection.
    /// </summary>
    Drop,

    /// <summary>
    /// Kept for a reader that comes later, up to <see cref="PipeChannelOptions.ReceiveBufferLimit"/> bytes; beyond that
    /// the peer's sends wait (and time out) until a reader takes some. Requests and answers are never held up by them.
    /// </summary>
    Queue,
}
