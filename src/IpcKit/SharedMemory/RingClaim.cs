namespace IpcKit.SharedMemory;

/// <summary>Room reserved in a ring by <see cref="RingWriter.TryClaim"/>: fill <see cref="Span"/>, then commit or abort.</summary>
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

    /// <summary>The payload memory, inside the ring.</summary>
    public Span<byte> Span { get; }

    /// <summary>Publishes the whole claimed payload as one message of type <paramref name="type"/>.</summary>
    public void Commit(int type = 0) => _writer.CommitClaim(_version, Span.Length, type);

    /// <summary>Publishes the first <paramref name="length"/> bytes of the claim as one message; the rest stays free.</summary>
    public void Commit(int length, int type) => _writer.CommitClaim(_version, length, type);

    /// <summary>Gives the room back without publishing anything.</summary>
    public void Abort() => _writer.AbortClaim(_version);
}
