using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using IpcKit.Tests.Pipes;
using IpcKit.Tests.SharedMemory;
using MessagePack;
using MessagePack.Formatters;

namespace IpcKit.Tests.Contracts;

/// <summary>
/// The mistakes a user makes with contracts get a message that says what to do, on every transport, and fail only
/// the call: a class that is not a contract, a message read as another type. And users extend the serializer with
/// their own formatters without losing the untrusted-data settings.
/// </summary>
public sealed class SerializerTests : RingTestBase
{
    [Fact]
    public void A_class_without_MessagePackObject_is_refused_saying_so()
    {
        var error = Assert.Throws<ArgumentException>(() => IpcSerializer.Serialize(new System.Buffers.ArrayBufferWriter<byte>(), new NotAContract { Value = 1 }));

        Assert.Contains($"{typeof(NotAContract).FullName} is not a MessagePack contract", error.Message, StringComparison.Ordinal);
        Assert.Contains("[MessagePackObject]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed to serialize", error.Message, StringComparison.Ordinal);

        // Read side: asking for a non-contract is the reader's mistake, not the peer's (no IpcProtocolException).
        var message = new IpcMessage(MessageTypeId.Of<NotAContract>(), new byte[] { 0x91, 0x01 });
        Assert.Contains("is not a MessagePack contract", Assert.Throws<ArgumentException>(message.Deserialize<NotAContract>).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_contract_with_a_member_of_a_non_contract_type_names_the_member_type()
    {
        var error = Assert.Throws<ArgumentException>(() => IpcSerializer.Serialize(new System.Buffers.ArrayBufferWriter<byte>(), new HoldsANonContract { Inner = new NotAContract() }));

        Assert.Contains($"a member of {typeof(HoldsANonContract).FullName}", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(NotAContract), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_contract_fails_the_ring_write_and_the_ring_stays_usable()
    {
        string name = CreateRing();
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);

        Assert.Throws<ArgumentException>(() => writer.TrySend(new NotAContract { Value = 1 }));
        Assert.True(writer.TrySend(new Toy { Sequence = 5 }));
        Assert.Equal(5, reader.Receive<Toy>(TestTimeouts.Unexpected).Sequence);
    }

    [Fact]
    public async Task A_non_contract_fails_the_pipe_send_and_the_connection_stays_usable()
    {
        string name = UniqueName.Next("notcontract");
        await using TestServer server = TestServer.InProcess(name);
        await using PipeClient client = await PipeClient.ConnectAsync(name, timeout: TestTimeouts.Unexpected);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await client.SendAsync(new NotAContract { Value = 1 }));
        Assert.Contains("is not a MessagePack contract", error.Message, StringComparison.Ordinal);
        Assert.Equal("still here"u8.ToArray(), (await client.RequestRawAsync("still here"u8.ToArray(), timeout: TestTimeouts.Unexpected)).Body.ToArray());
    }

    [Fact]
    public void A_message_read_as_another_type_names_both()
    {
        _ = MessageTypeId.Of<SumRequest>();
        var message = new IpcMessage(MessageTypeId.Of<Toy>(), MessagePackSerializer.Serialize(new Toy(), IpcSerializer.Options));

        var error = Assert.Throws<IpcProtocolException>(message.Deserialize<SumRequest>);

        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<Toy>()), error.Message, StringComparison.Ordinal);
        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<SumRequest>()), error.Message, StringComparison.Ordinal);
        Assert.Contains("Toy (0x", error.Message, StringComparison.Ordinal);
        Assert.Contains("SumRequest (0x", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ring_message_read_as_another_type_names_both()
    {
        string name = CreateRing();
        using RingWriter writer = RingWriter.Attach(name);
        using RingReader reader = RingReader.Attach(name);
        Assert.True(writer.TrySend(new Toy { Sequence = 1 }));

        var error = Assert.Throws<IpcProtocolException>(() => reader.Receive<TextMessage>(TestTimeouts.Unexpected));

        Assert.Contains("Toy (0x", error.Message, StringComparison.Ordinal);
        Assert.Contains("TextMessage (0x", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Formatters_of_ones_own_extend_the_options_which_stay_for_untrusted_data()
    {
        IpcSerializer.AddFormatters(new CelsiusFormatter());

        byte[] bytes = MessagePackSerializer.Serialize(new Reading { At = 3, Temperature = new Celsius(21.5) }, IpcSerializer.Options);
        Reading back = new IpcMessage(MessageTypeId.Of<Reading>(), bytes).Deserialize<Reading>();

        Assert.Equal(21.5, back.Temperature.Degrees);
        Assert.Equal(MessagePackSecurity.UntrustedData.HashCollisionResistant, IpcSerializer.Options.Security.HashCollisionResistant);
        Assert.Equal(MessagePackSecurity.UntrustedData.MaximumObjectGraphDepth, IpcSerializer.Options.Security.MaximumObjectGraphDepth);

        // The standard resolver still answers for everything else.
        Assert.Equal(4, MessagePackSerializer.Deserialize<Toy>(MessagePackSerializer.Serialize(new Toy { Sequence = 4 }, IpcSerializer.Options), IpcSerializer.Options).Sequence);
        Assert.Throws<ArgumentNullException>(() => IpcSerializer.AddResolvers(null!));
    }

    public sealed class NotAContract
    {
        public int Value { get; set; }
    }

    [MessagePackObject]
    public sealed class HoldsANonContract
    {
        [Key(0)]
        public NotAContract? Inner { get; set; }
    }

    /// <summary>A type from a library one cannot annotate.</summary>
    public readonly record struct Celsius(double Degrees);

    [MessagePackObject]
    public sealed class Reading
    {
        [Key(0)]
        public long At { get; set; }

        [Key(1)]
        public Celsius Temperature { get; set; }
    }

    private sealed class CelsiusFormatter : IMessagePackFormatter<Celsius>
    {
        public void Serialize(ref MessagePackWriter writer, Celsius value, MessagePackSerializerOptions options) => writer.Write(value.Degrees);

        public Celsius Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) => new(reader.ReadDouble());
    }
}
