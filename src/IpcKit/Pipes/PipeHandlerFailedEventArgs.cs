namespace IpcKit.Pipes;

/// <summary>A handler threw: a request handler (its caller got an error answer as well) or a message handler (nobody else was told).</summary>
public sealed class PipeHandlerFailedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public PipeHandlerFailedEventArgs(PipeConnection connection, Exception exception)
    {
        Connection = connection;
        Exception = exception;
    }

    /// <summary>The connection the message or request came from.</summary>
    public PipeConnection Connection { get; }

    /// <summary>What the handler threw.</summary>
    public Exception Exception { get; }
}
