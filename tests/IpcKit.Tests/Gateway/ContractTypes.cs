using IpcKit.Contracts;
using IpcKit.Gateway;
using MessagePack;

namespace IpcKit.Tests.Gateway;

/// <summary>The registries the gateway tests serve (a gateway's own registry is empty).</summary>
internal static class TestContracts
{
    /// <summary>The demo's contracts, as ipckit gateway registers them.</summary>
    public static ContractRegistry Demo() => new ContractRegistry().Add<Toy>().Add<TextMessage>().AddRequest<SumRequest, SumResponse>();
}

/// <summary>An embedder's union: .NET peers send it as IOrderEvent; in JSON "type" names the member.</summary>
[Union(0, typeof(OrderPlaced))]
[Union(1, typeof(OrderShipped))]
public interface IOrderEvent
{
}

[MessagePackObject]
public sealed class OrderPlaced : IOrderEvent
{
    [Key(0)]
    public int Id { get; set; }

    [Key(1)]
    [System.ComponentModel.DataAnnotations.Range(1, 100)]
    public int Items { get; set; } = 1;
}

[MessagePackObject]
public sealed class OrderShipped : IOrderEvent
{
    [Key(0)]
    public int Id { get; set; }

    [Key(1)]
    public string Carrier { get; set; } = "";
}

/// <summary>A contract with a union member: the nested message is polymorphic in JSON too.</summary>
[MessagePackObject]
public sealed class OrderHistory
{
    [Key(0)]
    public IOrderEvent[] Events { get; set; } = [];
}

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
