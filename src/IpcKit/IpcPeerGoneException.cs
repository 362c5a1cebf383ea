namespace IpcKit;

/// <summary>The process at the other end has exited, crashed, closed its end or stopped answering.</summary>
public sealed class IpcPeerGoneException : IpcException
{
    /// <summary>Creates the exception with the reason the peer is considered gone.</summary>
    /// <param name="message">What happened, for a person.</param>
    /// <param name="reason">One of the peer reasons: <see cref="IpcCloseReason.PeerClosed"/>, <see cref="IpcCloseReason.PeerDied"/>, <see cref="IpcCloseReason.PeerUnresponsive"/> or <see cref="IpcCloseReason.Disconnected"/>.</param>
    /// <param name="innerException">The OS error behind it, if any.</param>
    public IpcPeerGoneException(string message, IpcCloseReason reason, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>Why the peer is considered gone.</summary>
    public IpcCloseReason Reason { get; }
}
