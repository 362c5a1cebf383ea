using IpcKit.Contracts;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Contracts;

/// <summary>Every contract survives a trip through the wire format IpcKit uses (IpcSerializer.Options).</summary>
public sealed class ContractRoundTripTests
{
    private static readonly DateTime s_sentAt = new(2024, 2, 29, 23, 59, 58, DateTimeKind.Utc);

    [Fact]
    public void Toy_round_trips()
    {
        var toy = new Toy { Sequence = long.MaxValue, Name = "spinning top ✓", Sender = "producer 4242", SentAtUtc = s_sentAt.AddTicks(1234567) };

        Toy copy = RoundTrip(toy);

        Assert.Equal(toy.Sequence, copy.Sequence);
        Assert.Equal(toy.Name, copy.Name);
        Assert.Equal(toy.Sender, copy.Sender);
        Assert.Equal(toy.SentAtUtc, copy.SentAtUtc);
        Assert.Equal(DateTimeKind.Utc, copy.SentAtUtc.Kind);
    }

    [Fact]
    public void TextMessage_round_trips()
    {
        var message = new TextMessage { Message = "line one\nline two", From = "alice", To = "" };

        TextMessage copy = RoundTrip(message);

        Assert.Equal(message.Message, copy.Message);
        Assert.Equal(message.From, copy.From);
        Assert.Equal(message.To, copy.To);
    }

    [Theory]
    [InlineData(new long[0])]
    [InlineData(new long[] { 1, -2, long.MinValue, long.MaxValue })]
    public void SumRequest_round_trips(long[] numbers)
    {
        SumRequest copy = RoundTrip(new SumRequest { Numbers = numbers });

        Assert.Equal(numbers, copy.Numbers);
    }

    [Fact]
    public void SumResponse_round_trips()
    {
        var response = new SumResponse { Sum = -17, Count = 3, ProcessId = Environment.ProcessId };

        SumResponse copy = RoundTrip(response);

        Assert.Equal(response.Sum, copy.Sum);
        Assert.Equal(response.Count, copy.Count);
        Assert.Equal(response.ProcessId, copy.ProcessId);
    }

    [Fact]
    public void Contracts_are_arrays_keyed_by_position_on_the_wire()
    {
        // Integer keys mean a MessagePack array: field n is element n. Renumbering a key breaks every peer.
        byte[] bytes = MessagePackSerializer.Serialize(new SumResponse { Sum = 5, Count = 2, ProcessId = 7 }, IpcSerializer.Options);

        Assert.Equal([0x93, 0x05, 0x02, 0x07], bytes);
    }

    [Fact]
    public void Defaults_survive_a_round_trip_and_strings_are_never_null()
    {
        Toy copy = RoundTrip(new Toy());

        Assert.Equal(0, copy.Sequence);
        Assert.Equal("", copy.Name);
        Assert.Equal("", copy.Sender);
        Assert.Equal(default, copy.SentAtUtc);
    }

    [Fact]
    public void Truncated_bytes_fail_with_a_serialization_exception()
    {
        byte[] bytes = MessagePackSerializer.Serialize(new TextMessage { Message = "hello", From = "a", To = "b" }, IpcSerializer.Options);

        Assert.Throws<MessagePackSerializationException>(
            () => MessagePackSerializer.Deserialize<TextMessage>(bytes.AsMemory(0, bytes.Length - 2), IpcSerializer.Options));
    }

    private static T RoundTrip<T>(T value)
    {
        byte[] bytes = MessagePackSerializer.Serialize(value, IpcSerializer.Options);
        return MessagePackSerializer.Deserialize<T>(bytes, IpcSerializer.Options);
    }
}
