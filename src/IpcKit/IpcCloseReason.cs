namespace IpcKit;

/// <summary>
/// Why a connection or a peer relationship ended: one vocabulary for every transport. <see cref="IpcPeerGoneException"/>
/// carries the peer reasons; a pipe connection's close information (<c>PipeCloseInfo</c>) carries any of them.
/// </summary>
public enum IpcCloseReason
{
    /// <summary>This process closed it (dispose, or a server stopping).</summary>
    Local,

    /// <summary>The peer closed it in an orderly way (a close frame, a detach, an exit code of 0).</summary>
    PeerClosed,

    /// <summary>The peer's process exited, crashed or was killed without closing.</summary>
    PeerDied,

    /// <summary>The peer is still there but sent nothing (or too little) within the time allowed.</summary>
    PeerUnresponsive,

    /// <summary>The OS reported an error on the channel that says nothing about the peer's process.</summary>
    Disconnected,

    /// <summary>The peer broke the protocol (bad header, oversize frame, unknown kind, truncated frame, unreadable body, version mismatch).</summary>
    ProtocolViolation,

    /// <summary>The peer was refused: it runs as another user, or the server was at its connection limit.</summary>
    Rejected,
}
