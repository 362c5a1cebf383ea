namespace IpcKit;

/// <summary>A role (ring writer or reader, pipe server) is already held by a live process.</summary>
public sealed class IpcInUseException : IpcException
{
    /// <summary>Creates the exception.</summary>
    public IpcInUseException(string message)
        : base(message)
    {
    }
}
