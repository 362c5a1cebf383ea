namespace IpcKit.Pipes;

/// <summary>Why and how a <see cref="PipeConnection"/> ended: the result of <see cref="PipeConnection.Completion"/>.</summary>
public sealed class PipeCloseInfo
{
    internal PipeCloseInfo(IpcCloseReason reason, Exception exception)
    {
        Reason = reason;
        Exception = exception;
    }

    /// <summary>The reason.</summary>
    public IpcCloseReason Reason { get; }

    /// <summary>What pending and later operations on the connection fail with (for example <see cref="IpcPeerGoneException"/>).</summary>
    public Exception Exception { get; }

    /// <summary>Whether the connection ended without error: closed by this process or, in an orderly way, by the peer.</summary>
    public bool IsOrderly => Reason is IpcCloseReason.Local or IpcCloseReason.PeerClosed;

    /// <inheritdoc />
    public override string ToString() => $"{Reason}: {Exception.Message}";
}
