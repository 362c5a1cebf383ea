namespace IpcKit;

/// <summary>Base class of the errors IpcKit reports about another process or an OS object.</summary>
public class IpcException : IOException
{
    /// <summary>Creates an exception with a message.</summary>
    public IpcException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a platform error code.</summary>
    public IpcException(string message, int errorCode)
        : base(message, errorCode)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public IpcException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
