using System.Buffers;
using System.Buffers.Binary;
using IpcKit.Pipes;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// The checks of the wire format at their exact bounds (docs/pipe-protocol.md): the highest frame kind and the one
/// after it, each bit of the flags and reserved bytes, a header split across buffer segments, the hello's shortest
/// and other-version forms, and the error body's shape and size limit. These are the parsers every byte a peer sends
/// goes through; one off by one here is a peer's way in.
/// </summary>
public sealed class PipeWireFormatTests
{
    [Fact]
    public void Every_kind_up_to_credit_is_accepted_and_the_next_one_is_refused()
    {
        for (byte kind = 0; kind <= (byte)FrameKind.Credit; kind++)
        {
            Assert.Equal(FrameHeader.Size, FrameHeader.Peek(Header(kind: kind), 1024, out FrameHeader header));
            Assert.Equal((FrameKind)kind, header.Kind);
        }

        byte next = (byte)FrameKind.Credit + 1;
        var error = Assert.Throws<IpcProtocolException>(() => FrameHeader.Peek(Header(kind: next), 1024, out _));
        Assert.Contains($"Unknown frame kind {next}", error.Message, StringComparison.Ordinal);
        Assert.Throws<IpcProtocolException>(() => FrameHeader.Peek(Header(kind: 255), 1024, out _));
    }

    [Theory]
    [InlineData(5, 0x01)]
    [InlineData(5, 0x80)]
    [InlineData(6, 0x01)]
    [InlineData(7, 0x01)]
    [InlineData(7, 0x80)]
    public void Any_bit_set_in_the_flags_or_reserved_bytes_is_refused(int offset, byte bit)
    {
        byte[] header = Header();
        header[offset] = bit;

        var error = Assert.Throws<IpcProtocolException>(() => FrameHeader.Peek(header, 1024, out _));
        Assert.Contains("bytes 5-7 must be zero", error.Message, StringComparison.Ordinal);
        var sequence = new ReadOnlySequence<byte>(header);
        Assert.Throws<IpcProtocolException>(() => FrameHeader.TryRead(ref sequence, 1024, out _, out _));
    }

    [Fact]
    public void A_body_of_exactly_the_largest_length_is_read_whole_and_the_buffer_moves_past_it()
    {
        byte[] first = RawPipeClient.Frame(RawPipeClient.Message, 0, 7, Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
        byte[] second = RawPipeClient.Frame(RawPipeClient.Request, 9, 8, [42]);
        var buffer = new ReadOnlySequence<byte>([.. first, .. second]);

        Assert.True(FrameHeader.TryRead(ref buffer, 100, out FrameHeader header, out ReadOnlySequence<byte> body));
        Assert.Equal(100, header.BodyLength);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (byte)i), body.ToArray());
        Assert.Equal(second.Length, buffer.Length);

        Assert.True(FrameHeader.TryRead(ref buffer, 100, out header, out body));
        Assert.Equal((FrameKind.Request, 9u, 8), (header.Kind, header.CorrelationId, header.MessageType));
        Assert.Equal([42], body.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_frame_one_byte_short_is_left_whole_in_the_buffer_and_completes_with_that_byte()
    {
        byte[] frame = RawPipeClient.Frame(RawPipeClient.Message, 0, 3, [1, 2, 3, 4, 5]);
        for (int length = 0; length < frame.Length; length++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, length);
            Assert.False(FrameHeader.TryRead(ref partial, 1024, out _, out ReadOnlySequence<byte> none));
            Assert.Equal(length, partial.Length);
            Assert.True(none.IsEmpty);
            Assert.Equal(length < FrameHeader.Size ? 0 : frame.Length, FrameHeader.Peek(frame.AsSpan(0, length), 1024, out _));
        }

        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameHeader.TryRead(ref whole, 1024, out _, out ReadOnlySequence<byte> body));
        Assert.Equal([1, 2, 3, 4, 5], body.ToArray());
    }

    [Fact]
    public void A_header_split_across_buffer_segments_reads_the_same_as_one_in_a_single_segment()
    {
        byte[] frame = RawPipeClient.Frame(RawPipeClient.Response, 0xA1B2C3D4, -7, [5, 6, 7]);
        for (int split = 1; split < frame.Length; split++)
        {
            ReadOnlySequence<byte> buffer = Segments(frame[..split], frame[split..]);
            Assert.True(FrameHeader.TryRead(ref buffer, 1024, out FrameHeader header, out ReadOnlySequence<byte> body), $"split at {split}");
            Assert.Equal((FrameKind.Response, 0xA1B2C3D4u, -7, 3), (header.Kind, header.CorrelationId, header.MessageType, header.BodyLength));
            Assert.Equal([5, 6, 7], body.ToArray());
            Assert.True(buffer.IsEmpty);
        }

        // A bad header split across segments is refused as well: the check reads the copied bytes.
        byte[] bad = Header(kind: 200);
        ReadOnlySequence<byte> split2 = Segments(bad[..5], bad[5..]);
        Assert.Throws<IpcProtocolException>(() => FrameHeader.TryRead(ref split2, 1024, out _, out _));
    }

    [Fact]
    public void A_hello_is_read_field_by_field_and_values_above_int_max_are_clamped()
    {
        byte[] body = new byte[PipeProtocol.HelloSize];
        "IPCK"u8.CopyTo(body);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), PipeProtocol.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), 1111);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), 2222);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), 3333);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(20), 4444);
        Assert.Equal(new PipeProtocol.Hello(PipeProtocol.Version, 1111, 2222, 3333, 4444), PipeProtocol.ReadHello(body));

        // Later versions may append fields: a longer hello is read the same.
        Assert.Equal(new PipeProtocol.Hello(PipeProtocol.Version, 1111, 2222, 3333, 4444), PipeProtocol.ReadHello([.. body, 9, 9, 9, 9]));

        for (int field = 8; field < PipeProtocol.HelloSize; field += 4)
        {
            byte[] huge = [.. body];
            BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(field), 0x8000_0000);
            PipeProtocol.Hello hello = PipeProtocol.ReadHello(huge);
            int[] values = [hello.MaxBodyLength, hello.ProcessId, hello.ReceiveWindow, hello.MaxRequests];
            Assert.Equal(int.MaxValue, values[(field - 8) / 4]);
            Assert.All(values.Where((_, i) => i != (field - 8) / 4), value => Assert.True(value < 5000));
        }
    }

    [Fact]
    public void A_hello_is_written_whole_over_whatever_the_buffer_held()
    {
        byte[] body = new byte[PipeProtocol.HelloSize];
        body.AsSpan().Fill(0xFF);
        PipeProtocol.WriteHello(body, new PipeProtocol.Hello(PipeProtocol.Version, 1, 2, 3, 4));
        Assert.Equal(Convert.FromHexString("4950434B" + "0200" + "0000" + "01000000" + "02000000" + "03000000" + "04000000"), body);
    }

    [Fact]
    public void A_hello_of_this_version_needs_all_24_bytes_and_one_of_another_version_only_its_first_8()
    {
        byte[] body = new byte[PipeProtocol.HelloSize];
        PipeProtocol.WriteHello(body, new PipeProtocol.Hello(PipeProtocol.Version, 1 << 20, 1, 1, 1));

        var shortError = Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadHello(body.AsSpan(0, PipeProtocol.HelloSize - 1)));
        Assert.Contains("23 bytes", shortError.Message, StringComparison.Ordinal);
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadHello(body.AsSpan(0, 7)));
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadHello(body.AsSpan(0, 3)));

        byte[] other = [.. body];
        BinaryPrimitives.WriteUInt16LittleEndian(other.AsSpan(4), 1);
        Assert.Equal(new PipeProtocol.Hello(1, 0, 0, 0, 0), PipeProtocol.ReadHello(other.AsSpan(0, 8)));
        Assert.Equal(new PipeProtocol.Hello(1, 0, 0, 0, 0), PipeProtocol.ReadHello(other.AsSpan(0, 11)));
        Assert.Equal(new PipeProtocol.Hello(1, 1 << 20, 0, 0, 0), PipeProtocol.ReadHello(other.AsSpan(0, 12)));

        byte[] wrongMagic = [.. body];
        wrongMagic[3] = (byte)'L';
        var magic = Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadHello(wrongMagic));
        Assert.Contains("4950434C", magic.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_error_body_needs_two_strings_and_anything_else_is_a_protocol_error()
    {
        Assert.Equal(("T", "m"), PipeProtocol.ReadError(Pack("T", "m")));
        Assert.Equal(("T", "m"), PipeProtocol.ReadError(Pack("T", "m", "later")));
        Assert.Equal(("", ""), PipeProtocol.ReadError(Pack(null, null)));

        var one = Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(Pack("T")));
        Assert.Contains("it has 1 elements", one.Message, StringComparison.Ordinal);
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(Pack()));
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(MessagePackSerializer.Serialize(42)));
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(Pack(1, 2)));
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(Pack("T", "m")[..^1]));
        Assert.Throws<IpcProtocolException>(() => PipeProtocol.ReadError(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public void An_error_message_is_cut_to_4000_characters_and_then_to_the_peers_limit()
    {
        string message = string.Concat(Enumerable.Range(0, 5000).Select(i => (char)('a' + (i % 26))));
        var written = new ArrayBufferWriter<byte>();

        PipeProtocol.WriteErrorWithin(written, "Some.Type", message, 1 << 20);
        (string type, string cut) = PipeProtocol.ReadError(written.WrittenMemory);
        Assert.Equal("Some.Type", type);
        Assert.Equal(message[..4000], cut);

        PipeProtocol.WriteErrorWithin(written, "Some.Type", message[..3999], 1 << 20);
        Assert.Equal(message[..3999], PipeProtocol.ReadError(written.WrittenMemory).Message);

        // Shortened to fit, as much of the message as the limit allows (a prefix), the type name whole.
        foreach (int limit in new[] { 4096, 1000, 100, 20, 12 })
        {
            PipeProtocol.WriteErrorWithin(written, "Some.Type", message, limit);
            Assert.True(written.WrittenCount <= limit, $"{written.WrittenCount} bytes for a limit of {limit}");
            (type, cut) = PipeProtocol.ReadError(written.WrittenMemory);
            Assert.Equal("Some.Type", type);
            Assert.StartsWith(cut, message, StringComparison.Ordinal);
            Assert.True(cut.Length >= (limit - 16) / 2, $"{cut.Length} characters kept for a limit of {limit}");
        }

        // Below what the type name needs, the name is cut too; 3 bytes always fit (two empty strings).
        PipeProtocol.WriteErrorWithin(written, "Some.Type", message, 8);
        Assert.True(written.WrittenCount <= 8);
        (type, cut) = PipeProtocol.ReadError(written.WrittenMemory);
        Assert.Equal("", cut);
        Assert.StartsWith(type, "Some.Type", StringComparison.Ordinal);
        Assert.NotEqual("", type);

        // With no type name, the message alone is cut to fit.
        PipeProtocol.WriteErrorWithin(written, "", message, 50);
        Assert.True(written.WrittenCount <= 50, $"{written.WrittenCount} bytes for a limit of 50");
        Assert.StartsWith(PipeProtocol.ReadError(written.WrittenMemory).Message, message, StringComparison.Ordinal);

        PipeProtocol.WriteErrorWithin(written, "Some.Type", message, 3);
        Assert.Equal(("", ""), PipeProtocol.ReadError(written.WrittenMemory));
        Assert.Equal(3, written.WrittenCount);
    }

    [Fact]
    public void A_one_way_message_costs_its_header_and_its_body_in_the_window()
    {
        Assert.Equal(16, PipeProtocol.MessageCost(0));
        Assert.Equal(16 + 1000, PipeProtocol.MessageCost(1000));
    }

    private static byte[] Header(byte kind = 1, uint length = 0)
    {
        byte[] header = new byte[FrameHeader.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(header, length);
        header[4] = kind;
        return header;
    }

    private static ReadOnlyMemory<byte> Pack(params object?[] items) => MessagePackSerializer.Serialize(items);

    private static ReadOnlySequence<byte> Segments(byte[] first, byte[] second)
    {
        var head = new Segment(first, 0);
        Segment tail = head.Append(second);
        return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
