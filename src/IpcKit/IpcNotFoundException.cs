namespace IpcKit;

/// <summary>The named semaphore, ring or pipe does not exist.</summary>
public sealed class IpcNotFoundException : IpcException
{
    /// <summary>Creates the exception for the object called <paramref name="name"/>.</summary>
    public IpcNotFoundException(string name, string message)
        : base(message)
    {
        Name = name;
    }

    /// <summary>The IpcKit name of the missing object.</summary>
    public string Name { get; }
}
