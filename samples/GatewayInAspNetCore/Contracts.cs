using MessagePack;

namespace GatewayInAspNetCore;

// The app's own contracts, as its .NET processes send them over rings and pipes; the gateway serves them as JSON.

/// <summary>An order placed: {"type":"OrderPlaced","id":1,"product":"kite","quantity":2}.</summary>
[MessagePackObject]
public sealed class OrderPlaced
{
    [Key(0)]
    public int Id { get; set; }

    [Key(1)]
    public string Product { get; set; } = "";

    [Key(2)]
    public int Quantity { get; set; } = 1;
}

/// <summary>A question for a pipe server: how many of a product are in stock.</summary>
[MessagePackObject]
public sealed class StockQuery
{
    [Key(0)]
    public string Product { get; set; } = "";
}

/// <summary>The answer to a <see cref="StockQuery"/>.</summary>
[MessagePackObject]
public sealed class StockLevel
{
    [Key(0)]
    public string Product { get; set; } = "";

    [Key(1)]
    public int InStock { get; set; }
}
