// The README's "Your own messages" example, compiled. ReadmeExampleTests checks that the README shows exactly the
// code between the two markers, so the example cannot rot.
// README begin
using IpcKit;
using IpcKit.Serialization;
using MessagePack;

namespace Orders.Contracts;

[MessagePackObject]
[IpcMessage("orders.placed.v1")]    // the wire name: rename or move the class freely, the id stays
public sealed class OrderPlaced
{
    [Key(0)] public long OrderId { get; set; }
    [Key(1)] public string Customer { get; set; } = "";
    [Key(2)] public decimal Total { get; set; }
}

[MessagePackObject]
[IpcMessage("orders.cancelled.v1")]
public sealed class OrderCancelled
{
    [Key(0)] public long OrderId { get; set; }
}

public static class OrderEvents
{
    // One receive loop, several kinds of message: the type id says which.
    public static string Handle(IpcMessage message)
    {
        if (message.Is<OrderPlaced>())
        {
            OrderPlaced order = message.Deserialize<OrderPlaced>();
            return $"order {order.OrderId} placed by {order.Customer}";
        }

        if (message.Is<OrderCancelled>())
        {
            return $"order {message.Deserialize<OrderCancelled>().OrderId} cancelled";
        }

        return $"not for us: {message}";  // prints the id as MessageTypeId.Describe does
    }
}
// README end
