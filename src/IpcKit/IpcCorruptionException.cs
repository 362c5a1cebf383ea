namespace IpcKit;

/// <summary>Shared data failed validation: the other process (or something else) wrote bytes that break the format.</summary>
public sealed class IpcCorruptionException : IpcException
{
    /// <summary>Creates the exception, naming where the corruption was found.</summary>
    public IpcCorruptionException(string message, long position = -1)
        : base(message)
    {
        Position = position;
    }

    /// <summary>The ring position (byte offset in the stream of records) where validation failed, or -1.</summary>
    public long Position { get; }
}
