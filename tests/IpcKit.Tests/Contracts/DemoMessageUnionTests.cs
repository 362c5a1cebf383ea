using IpcKit.Contracts;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Contracts;

/// <summary>IDemoMessage: one channel carries every demo message and the receiver gets the right type back.</summary>
public sealed class DemoMessageUnionTests
{
    public static TheoryData<IDemoMessage, int> Cases => new()
    {
        // The union key is the wire format: these numbers may never change (docs in IDemoMessage).
        { new Toy { Sequence = 3, Name = "kite", Sender = "p", SentAtUtc = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc) }, 0 },
        { new TextMessage { Message = "hi", From = "a", To = "b" }, 1 },
        { new SumRequest { Numbers = [1, 2, 3] }, 2 },
        { new SumResponse { Sum = 6, Count = 3, ProcessId = 99 }, 3 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_case_comes_back_as_its_own_type_with_its_values(IDemoMessage message, int unionKey)
    {
        byte[] bytes = MessagePackSerializer.Serialize(message, IpcSerializer.Options);

        // A union is [key, body] on the wire.
        Assert.Equal(0x92, bytes[0]);
        Assert.Equal(unionKey, bytes[1]);

        IDemoMessage copy = MessagePackSerializer.Deserialize<IDemoMessage>(bytes, IpcSerializer.Options);
        Assert.IsType(message.GetType(), copy);
        Assert.Equal(
            MessagePackSerializer.Serialize(message.GetType(), message, IpcSerializer.Options),
            MessagePackSerializer.Serialize(copy.GetType(), copy, IpcSerializer.Options));
    }

    [Fact]
    public void The_body_of_a_case_is_the_contract_itself()
    {
        var request = new SumRequest { Numbers = [40, 2] };
        byte[] union = MessagePackSerializer.Serialize<IDemoMessage>(request, IpcSerializer.Options);
        byte[] alone = MessagePackSerializer.Serialize(request, IpcSerializer.Options);

        Assert.Equal(alone, union.AsSpan(2).ToArray());
    }

    [Fact]
    public void A_case_added_later_by_a_newer_peer_reads_as_null_instead_of_failing()
    {
        // A newer sender may add [Union(4, typeof(Something))]; an older receiver skips the body and gets null,
        // so it can ignore the message instead of tearing down the channel.
        byte[] bytes = [0x92, 0x04, 0x91, 0x2a];

        Assert.Null(MessagePackSerializer.Deserialize<IDemoMessage>(bytes, IpcSerializer.Options));
    }
}
