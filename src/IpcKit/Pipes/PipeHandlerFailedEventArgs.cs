namespace IpcKit.Pipes;

/// <summary>A server handler threw: a request handler (the caller got an error response) or a message handler (nobody was told).</summary>
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
