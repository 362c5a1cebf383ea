namespace IpcKit.Pipes;

/// <summary>What one connection (or, summed, a server or a client over all its connections) has sent, received and dropped.</summary>
/// <param name="MessagesSent">One-way messages sent (queued for the peer).</param>
/// <param name="MessagesReceived">One-way messages received.</param>
/// <param name="MessagesDropped">One-way messages received that no handler and no reader took (see <see cref="PipeUnhandledMessages"/>).</param>
/// <param name="RequestsSent">Requests sent.</param>
/// <param name="RequestsReceived">Requests received (answered, or being handled).</param>
/// <param name="BytesSent">Bytes of every frame sent, headers included.</param>
/// <param name="BytesReceived">Bytes of every frame received, headers included.</param>
public readonly record struct PipeStatistics(
    long MessagesSent,
    long MessagesReceived,
    long MessagesDropped,
    long RequestsSent,
    long RequestsReceived,
    long BytesSent,
    long BytesReceived)
{
    /// <summary>The sum of two sets of figures.</summary>
    public static PipeStatistics operator +(PipeStatistics left, PipeStatistics right) => new(
        left.MessagesSent + right.MessagesSent,
        left.MessagesReceived + right.MessagesReceived,
        left.MessagesDropped + right.MessagesDropped,
        left.RequestsSent + right.RequestsSent,
        left.RequestsReceived + right.RequestsReceived,
        left.BytesSent + right.BytesSent,
        left.BytesReceived + right.BytesReceived);

    /// <summary>The sum of two sets of figures (for languages without operators).</summary>
    public static PipeStatistics Add(PipeStatistics left, PipeStatistics right) => left + right;
}
