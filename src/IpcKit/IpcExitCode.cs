namespace IpcKit;

/// <summary>The process exit codes every IpcKit program uses, so scripts can react the same way to each tool.</summary>
public enum IpcExitCode
{
    /// <summary>Success.</summary>
    Success = 0,

    /// <summary>A wait or operation timed out.</summary>
    TimedOut = 1,

    /// <summary>Bad arguments or an invalid name.</summary>
    InvalidArguments = 2,

    /// <summary>The peer process is gone.</summary>
    PeerGone = 3,

    /// <summary>Data corrupted or protocol violated.</summary>
    Corrupted = 4,

    /// <summary>Any other error.</summary>
    Error = 5,
}

/// <summary>Maps exceptions to <see cref="IpcExitCode"/>.</summary>
public static class IpcExitCodes
{
    /// <summary>The exit code a program should end with after <paramref name="exception"/> stopped it.</summary>
    public static IpcExitCode FromException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            return FromException(aggregate.InnerExceptions[0]);
        }

        return exception switch
        {
            TimeoutException => IpcExitCode.TimedOut,
            ArgumentException => IpcExitCode.InvalidArguments,
            IpcPeerGoneException or SharedMemory.RingSubscriberDroppedException => IpcExitCode.PeerGone,
            IpcCorruptionException or IpcProtocolException => IpcExitCode.Corrupted,
            _ => IpcExitCode.Error,
        };
    }
}
