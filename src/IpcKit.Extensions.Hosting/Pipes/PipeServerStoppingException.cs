namespace IpcKit.Extensions.Hosting;

/// <summary>
/// The answer a hosted pipe server gives a request that reached it after it began to stop: the request was not handled
/// and may be sent again (the caller sees it as a <see cref="Pipes.PipeRemoteException"/> naming this type).
/// </summary>
public sealed class PipeServerStoppingException : InvalidOperationException
{
    /// <summary>Creates the exception with a message naming the server.</summary>
    public PipeServerStoppingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the default message.</summary>
    public PipeServerStoppingException()
        : base("The pipe server is stopping: the request was not handled.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public PipeServerStoppingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
