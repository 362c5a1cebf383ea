namespace IpcKit.SharedMemory;

/// <summary>Messages read from a ring without copying, for use with <c>foreach</c> (see <see cref="RingReader.ReadBatch"/>).</summary>
public ref struct RingBatch
{
    private readonly RingReader _reader;
    private int _remaining;
    private RingRecord _current;

    internal RingBatch(RingReader reader, int maxMessages)
    {
        _reader = reader;
        _remaining = maxMessages;
    }

    /// <summary>The message the enumeration is at.</summary>
    public readonly RingRecord Current => _current;

    /// <summary>The enumerator is the batch itself.</summary>
    public readonly RingBatch GetEnumerator() => this;

    /// <summary>Moves to the next ready message, consuming it; false when none is ready or the batch is complete.</summary>
    public unsafe bool MoveNext()
    {
        if (_remaining == 0 || !_reader.TryPeek(out byte* body, out int length, out int typeId, out long position))
        {
            return false;
        }

        _remaining--;
        _current = new RingRecord(new ReadOnlySpan<byte>(body, length), typeId, position);
        _reader.Consume(length);
        return true;
    }

    /// <summary>Frees the room of every consumed message for the writers.</summary>
    public readonly void Dispose() => _reader.Publish();
}

/// <summary>One message in a <see cref="RingBatch"/>: its body (in ring memory), its type id and its position.</summary>
public readonly ref struct RingRecord
{
    internal RingRecord(ReadOnlySpan<byte> body, int typeId, long position)
    {
        Body = body;
        TypeId = typeId;
        Position = position;
    }

    /// <summary>The body, valid until the batch moves on or ends.</summary>
    public ReadOnlySpan<byte> Body { get; }

    /// <summary>The type id (0 for raw bytes; see <see cref="Serialization.MessageTypeId.Describe"/>).</summary>
    public int TypeId { get; }

    /// <summary>
    /// Where the record starts in the ring: the byte count the writers had committed before it (padding included).
    /// Positions only grow and are unique for the life of the ring file, so they identify messages. A reader that
    /// dies before its batch ends gets the batch again after a restart, with the same positions: a consumer that
    /// stores the position of the last message it processed, together with the effect of processing it, skips
    /// records at or below it and processes each message exactly once (docs/ring-format.md, "Positions").
    /// </summary>
    public long Position { get; }
}

/// <summary>The length and type id of a message copied out of a ring into a caller's buffer.</summary>
/// <param name="Length">Body bytes copied.</param>
/// <param name="TypeId">The type id (0 for raw bytes).</param>
public readonly record struct RingReceiveResult(int Length, int TypeId);
