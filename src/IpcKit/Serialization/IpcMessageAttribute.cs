namespace IpcKit.Serialization;

/// <summary>
/// Gives a contract a stable wire name, from which its <see cref="MessageTypeId"/> is computed instead of from the CLR
/// type's full name: the type can then be renamed or moved to another namespace or assembly without changing the
/// wire. Put a version in the name ("orders.placed.v1") and change it only for a change old readers must not accept.
/// </summary>
/// <remarks>
/// A contracts assembly that should not reference IpcKit can declare its own attribute class named
/// <c>IpcMessageAttribute</c> (any namespace) with a constructor taking the name as its one string argument:
/// <see cref="MessageTypeId"/> recognises it by name. See README "Your own messages" for versioning.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, Inherited = false, AllowMultiple = false)]
public sealed class IpcMessageAttribute : Attribute
{
    /// <summary>Marks a contract with its wire name.</summary>
    /// <param name="name">The wire name: 1 to 200 printable ASCII characters, such as "orders.placed.v1".</param>
    public IpcMessageAttribute(string name)
    {
        MessageTypeId.ValidateWireName(name, nameof(name));
        Name = name;
    }

    /// <summary>The wire name.</summary>
    public string Name { get; }
}
