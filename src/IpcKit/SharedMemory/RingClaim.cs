namespace IpcKit.SharedMemory;

/// <summary>Room reserved in a ring by <see cref="RingWriter.TryClaim"/>: fill <see cref="Span"/>, then commit or abort.</summary>
/// <remarks>
/// <c>Commit(60)</c> commits 60 bytes: the length always comes first, so a type id can never be taken for a length.
/// </remarks>
public readonly ref struct RingClaim
{
    private readonly RingWriter _writer;
    private readonly long _version;

    internal RingClaim(RingWriter writer, long version, Span<byte> span)
    {
        _writer = writer;
        _version = version;
        Span = span;
    }

    /// <summary>The body memory, inside the ring.</summary>
    public Span<byte> Span { get; }

    /// <summary>Publishes the whole claimed body as one message of raw bytes (type id 0).</summary>
    public void Commit() => _writer.CommitClaim(_version, Span.Length, Serialization.MessageTypeId.Untyped);

    /// <summary>Publishes the first <paramref name="length"/> bytes of the claim as one message of <paramref name="typeId"/>; the rest stays free.</summary>
    public void Commit(int length, int typeId = Serialization.MessageTypeId.Untyped) => _writer.CommitClaim(_version, length, typeId);

    /// <summary>Gives the room back without publishing anything.</summary>
    public void Abort() => _writer.AbortClaim(_version);
}
