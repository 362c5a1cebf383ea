using MessagePack;

namespace IpcKit.Tests.Gateway;

/// <summary>An embedder's contract: keyed members go on the wire (and into JSON), an ignored one does not, a validated one is checked.</summary>
[MessagePackObject]
public sealed class Order
{
    [Key(0)]
    public int Id { get; set; }

    [Key(1)]
    [System.ComponentModel.DataAnnotations.Range(1, 100)]
    public int Items { get; set; } = 1;

    [IgnoreMember]
    public string LocalNote { get; set; } = "";
}

/// <summary>A request answered with an <see cref="Order"/>.</summary>
[MessagePackObject]
public sealed class Quote
{
    [Key(0)]
    public string Product { get; set; } = "";
}

/// <summary>A contract with a member that would clash with the gateway's "type" member.</summary>
[MessagePackObject]
public sealed class Typed
{
    [Key(0)]
    public string Type { get; set; } = "";
}

/// <summary>Not a MessagePack contract at all.</summary>
public sealed class NotAContract
{
    public int Value { get; set; }
}
