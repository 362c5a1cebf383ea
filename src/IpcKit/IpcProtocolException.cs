namespace IpcKit;

/// <summary>The peer broke the wire protocol: a bad frame, an unknown kind, a version mismatch, an unreadable body.</summary>
public sealed class IpcProtocolException : IpcException
{
    /// <summary>Creates the exception.</summary>
    public IpcProtocolException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
