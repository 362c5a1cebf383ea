namespace IpcKit;

/// <summary>An object with this name already exists, and the caller asked to create a new one.</summary>
public sealed class IpcAlreadyExistsException : IpcException
{
    /// <summary>Creates the exception for the object called <paramref name="name"/>.</summary>
    public IpcAlreadyExistsException(string name, string message)
        : base(message)
    {
        Name = name;
    }

    /// <summary>The IpcKit name of the existing object.</summary>
    public string Name { get; }
}
