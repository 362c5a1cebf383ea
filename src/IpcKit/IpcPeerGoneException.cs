namespace IpcKit;

/// <summary>The process at the other end has exited, crashed, closed its end or stopped answering.</summary>
public sealed class IpcPeerGoneException : IpcException
{
    /// <summary>Creates the exception with the reason the peer is considered gone.</summary>
    public IpcPeerGoneException(string message, PeerGoneReason reason, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>Why the peer is considered gone.</summary>
    public PeerGoneReason Reason { get; }
}

/// <summary>Why a peer is considered gone.</summary>
public enum PeerGoneReason
{
    /// <summary>The peer closed its end in an orderly way.</summary>
    Closed,

    /// <summary>The peer's process died (for example killed with SIGKILL) without closing.</summary>
    Died,

    /// <summary>The peer is still there but stopped answering heartbeats within the configured time.</summary>
    Unresponsive,

    /// <summary>The connection broke (the OS reported an error on the channel).</summary>
    Disconnected,
}
