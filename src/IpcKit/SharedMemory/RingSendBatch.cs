namespace IpcKit.SharedMemory;

/// <summary>
/// Messages sent together (see <see cref="RingWriter.BeginBatch"/>): each is written in place at once, and all become
/// visible to the reader when the batch is published, with one fence for the batch instead of one per message.
/// Dispose publishes and ends the batch.
/// </summary>
public readonly ref struct RingSendBatch
{
    private readonly RingWriter _writer;

    internal RingSendBatch(RingWriter writer)
    {
        _writer = writer;
    }

    /// <summary>Adds one message of raw bytes if there is room now (or, publishing first, within <paramref name="timeout"/>).</summary>
    /// <exception cref="ArgumentException">The body is longer than the ring's maximum message size.</exception>
    public bool TrySendRaw(ReadOnlySpan<byte> body, int typeId = Serialization.MessageTypeId.Untyped, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (_writer.Stage(body, typeId))
        {
            return true;
        }

        return timeout is TimeSpan wait && _writer.WaitForRoom(body.Length, wait, cancellationToken) && _writer.Stage(body, typeId);
    }

    /// <summary>Makes every message added so far visible to the reader.</summary>
    public void Publish() => _writer.PublishBatch();

    /// <summary>Publishes and ends the batch.</summary>
    public void Dispose() => _writer.EndBatch();
}
