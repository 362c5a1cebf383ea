namespace IpcKit.Tests.Contracts.ElsewhereAttributes;

/// <summary>What a contracts assembly that does not reference IpcKit declares for itself (see WireNameTests).</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class IpcMessageAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
