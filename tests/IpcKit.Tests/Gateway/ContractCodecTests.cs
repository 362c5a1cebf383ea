using System.Text;
using IpcKit.Contracts;
using IpcKit.Gateway;
using IpcKit.Gateway.Http;
using IpcKit.Gateway.Json;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Gateway;

/// <summary>JSON to MessagePack and back, and the registry's rules, without any process or socket.</summary>
public sealed class ContractCodecTests
{
    private static readonly MessageCodec s_codec = new(TestContracts.Demo());

    [Fact]
    public void Json_becomes_exactly_the_messagepack_a_dotnet_sender_would_write()
    {
        var toy = new Toy { Sequence = 3, Name = "kite", Sender = "s", SentAtUtc = new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc) };
        AssertSame(toy, """{"type":"Toy","sequence":3,"name":"kite","sender":"s","sentAtUtc":"2024-01-02T03:04:05Z"}""");
        AssertSame(new TextMessage { Message = "héllo ✓", From = "a", To = "b" }, """{"type":"IpcKit.Contracts.TextMessage","message":"héllo ✓","from":"a","to":"b"}""");
        AssertSame(new SumRequest { Numbers = [1, -2, long.MaxValue] }, $$"""{"type":"SumRequest","numbers":[1,-2,{{long.MaxValue}}]}""");
        AssertSame(new SumResponse { Sum = 9, Count = 2, ProcessId = 7 }, """{"count":2,"type":"SumResponse","sum":9,"processId":7}""");

        OutgoingMessage raw = Assert.Single(s_codec.Parse(Encoding.UTF8.GetBytes("""{"type":"raw","base64":"AAEC/w=="}"""), allowBatch: false));
        Assert.Equal(MessageTypeId.Untyped, raw.TypeId);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, raw.ToPayload());
    }

    [Fact]
    public void Every_message_read_from_a_channel_renders_as_json()
    {
        byte[] toy = MessagePackSerializer.Serialize(new Toy { Sequence = 1, Name = "a\"b", Sender = "s" }, IpcSerializer.Options);
        Assert.Equal("""{"type":"Toy","sequence":1,"name":"a\u0022b","sender":"s","sentAtUtc":"0001-01-01T00:00:00Z"}""", Render(MessageTypeId.Of<Toy>(), toy));
        Assert.Equal("""{"type":"raw","base64":"AQI="}""", Render(0, [1, 2]));
        Assert.Equal("""{"type":"unknown","typeId":-5,"base64":"AQI="}""", Render(-5, [1, 2]));

        // A payload that is not the contract it claims to be, or a nil where the contract has an object, is described, not thrown.
        string garbage = Render(MessageTypeId.Of<Toy>(), [0xc1]);
        Assert.StartsWith("""{"type":"invalid","typeId":""", garbage, StringComparison.Ordinal);
        Assert.Contains("\"contract\":\"Toy\"", garbage, StringComparison.Ordinal);
        Assert.Contains("\"base64\":\"wQ==\"", garbage, StringComparison.Ordinal);
        Assert.StartsWith("""{"type":"invalid",""", Render(MessageTypeId.Of<Toy>(), [0xc0]), StringComparison.Ordinal);

        // A nil string from a .NET peer is written as null rather than refused.
        byte[] nilName = MessagePackSerializer.Serialize(new Toy { Name = null! }, IpcSerializer.Options);
        Assert.Contains("\"name\":null", Render(MessageTypeId.Of<Toy>(), nilName), StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_members_on_the_wire_are_json_and_validation_attributes_are_checked()
    {
        var codec = new MessageCodec(new ContractRegistry().Add<Order>());
        OutgoingMessage order = Assert.Single(codec.Parse(Encoding.UTF8.GetBytes("""{"type":"Order","id":4,"items":2}"""), allowBatch: false));
        Assert.Equal(MessagePackSerializer.Serialize(new Order { Id = 4, Items = 2 }, IpcSerializer.Options), order.ToPayload());

        GatewayProblem ignored = Assert.Throws<GatewayProblem>(() => codec.Parse(Encoding.UTF8.GetBytes("""{"type":"Order","id":4,"localNote":"x"}"""), allowBatch: false));
        Assert.Equal("invalid-message", ignored.Code);

        GatewayProblem range = Assert.Throws<GatewayProblem>(() => codec.Parse(Encoding.UTF8.GetBytes("""{"type":"Order","id":4,"items":0}"""), allowBatch: false));
        Assert.Equal("invalid-message", range.Code);
        Assert.Contains("Items", range.Detail, StringComparison.Ordinal);
        Assert.True(range.Extensions.ContainsKey("errors"));
    }

    [Fact]
    public void The_registry_refuses_names_and_types_it_cannot_serve()
    {
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<Order>("raw"));
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<Order>("ipckit.error"));
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<Order>("Toy").Add<Toy>());
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<Toy>().Add<Toy>("Toy2"));
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<NotAContract>());
        Assert.Equal(["Toy", "TextMessage", "SumResponse", "SumRequest"], TestContracts.Demo().Names);

        // A gateway knows no contracts until it is given some.
        Assert.Empty(new GatewayOptions().Contracts.Names);
    }

    [Fact]
    public async Task A_contract_with_a_member_called_type_cannot_be_served()
    {
        ArgumentException refused = await Assert.ThrowsAsync<ArgumentException>(
            () => IpcGateway.StartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = new ContractRegistry().Add<Typed>() }));
        Assert.Contains("\"type\"", refused.Message, StringComparison.Ordinal);

        var registry = TestContracts.Demo();
        await using (await IpcGateway.StartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = registry }))
        {
            Assert.Throws<InvalidOperationException>(() => registry.Add<Order>());
        }
    }

    [Fact]
    public void A_union_travels_as_the_union_and_its_json_type_names_the_member()
    {
        var codec = new MessageCodec(new ContractRegistry().Add<IOrderEvent>().Add<OrderHistory>());

        // The wire form is what a .NET peer's SendAsync<IOrderEvent> writes: the union's type id, the union key and the member.
        AssertSame<IOrderEvent>(new OrderShipped { Id = 7, Carrier = "post" }, """{"type":"OrderShipped","id":7,"carrier":"post"}""", codec);
        AssertSame<IOrderEvent>(new OrderPlaced { Id = 8, Items = 3 }, """{"id":8,"items":3,"type":"OrderPlaced"}""", codec);
        byte[] shipped = MessagePackSerializer.Serialize<IOrderEvent>(new OrderShipped { Id = 7, Carrier = "post" }, IpcSerializer.Options);
        Assert.Equal("""{"type":"OrderShipped","id":7,"carrier":"post"}""", Encoding.UTF8.GetString(codec.Render(MessageTypeId.Of<IOrderEvent>(), shipped)));

        // A union inside a contract is polymorphic the same way.
        var history = new OrderHistory { Events = [new OrderPlaced { Id = 1, Items = 2 }, new OrderShipped { Id = 1, Carrier = "c" }] };
        string historyJson = """{"type":"OrderHistory","events":[{"type":"OrderPlaced","id":1,"items":2},{"type":"OrderShipped","id":1,"carrier":"c"}]}""";
        AssertSame(history, historyJson, codec);
        Assert.Equal(historyJson, Encoding.UTF8.GetString(codec.Render(MessageTypeId.Of<OrderHistory>(), MessagePackSerializer.Serialize(history, IpcSerializer.Options))));

        // The union's own name is not a message type; a member's validation attributes are checked; a nested member needs its type.
        Assert.Contains("OrderPlaced, OrderShipped", Refused(codec, """{"type":"IOrderEvent","id":1}""", "unknown-type").Detail, StringComparison.Ordinal);
        Assert.Contains("Items", Refused(codec, """{"type":"OrderPlaced","id":1,"items":0}""", "invalid-message").Detail, StringComparison.Ordinal);
        Refused(codec, """{"type":"OrderHistory","events":[{"id":1}]}""", "invalid-message");
        Refused(codec, """{"type":"OrderHistory","events":[{"type":"Toy"}]}""", "invalid-message");
        Assert.Equal(["OrderPlaced", "OrderShipped", "OrderHistory"], codec.Registry.Names);
    }

    [Fact]
    public void A_union_member_cannot_also_be_registered_on_its_own()
    {
        Assert.Contains("union", Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<IOrderEvent>().Add<OrderShipped>()).Message, StringComparison.Ordinal);
        Assert.Contains("union", Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<OrderShipped>().Add<IOrderEvent>()).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ContractRegistry().Add<Order>("OrderPlaced").Add<IOrderEvent>());
    }

    private static GatewayProblem Refused(MessageCodec codec, string json, string code)
    {
        GatewayProblem problem = Assert.Throws<GatewayProblem>(() => codec.Parse(Encoding.UTF8.GetBytes(json), allowBatch: false));
        Assert.Equal(code, problem.Code);
        return problem;
    }

    private static void AssertSame<T>(T expected, string json, MessageCodec? codec = null)
    {
        OutgoingMessage message = Assert.Single((codec ?? s_codec).Parse(Encoding.UTF8.GetBytes(json), allowBatch: false));
        Assert.Equal(MessageTypeId.Of<T>(), message.TypeId);
        Assert.Equal(MessagePackSerializer.Serialize(expected, IpcSerializer.Options), message.ToPayload());
    }

    private static string Render(int typeId, byte[] payload) => Encoding.UTF8.GetString(s_codec.Render(typeId, payload));
}
