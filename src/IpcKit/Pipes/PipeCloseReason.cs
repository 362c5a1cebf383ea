namespace IpcKit.Pipes;

/// <summary>Why a <see cref="PipeConnection"/> ended.</summary>
public enum PipeCloseReason
{
    /// <summary>This process closed it (dispose, or the server stopping).</summary>
    Local,

    /// <summary>The peer closed it in an orderly way (it sent a close frame).</summary>
    PeerClosed,

    /// <summary>The peer's end vanished without a close frame: its process exited, crashed or was killed.</summary>
    PeerDied,

    /// <summary>Nothing came from the peer within <see cref="PipeChannelOptions.PeerTimeout"/> (or the handshake timeout).</summary>
    PeerUnresponsive,

    /// <summary>The OS reported an error on the channel.</summary>
    Disconnected,

    /// <summary>The peer broke the protocol: bad header, oversize frame, unknown kind, truncated frame, unreadable body, version mismatch.</summary>
    ProtocolViolation,

    /// <summary>The peer runs as another user while <see cref="PipeChannelOptions.CurrentUserOnly"/> is set.</summary>
    Rejected,
}
