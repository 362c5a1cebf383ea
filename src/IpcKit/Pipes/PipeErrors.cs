namespace IpcKit.Pipes;

/// <summary>Exceptions handed to many callers: each caller gets a fresh one (its own stack trace) with the same meaning.</summary>
internal static class PipeErrors
{
    /// <summary>A fresh exception of the same kind and message, with <paramref name="exception"/> as its inner exception.</summary>
    internal static Exception Copy(Exception exception) => exception switch
    {
        IpcPeerGoneException gone => new IpcPeerGoneException(gone.Message, gone.Reason, gone),
        IpcProtocolException protocol => new IpcProtocolException(protocol.Message, protocol),
        UnauthorizedAccessException denied => new UnauthorizedAccessException(denied.Message, denied),
        ObjectDisposedException disposed => new ObjectDisposedException(disposed.Message, disposed),
        OperationCanceledException cancelled => new OperationCanceledException(cancelled.Message, cancelled, cancelled.CancellationToken),
        _ => new IpcException(exception.Message, exception),
    };
}
