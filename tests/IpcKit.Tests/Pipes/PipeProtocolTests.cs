using System.Buffers;
using System.Buffers.Binary;
using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>The frame layout and the examples of docs/pipe-protocol.md, byte for byte.</summary>
public sealed class PipeProtocolTests
{
    [Fact]
    public void The_header_is_little_endian_and_sixteen_bytes_as_documented()
    {
        byte[] frame = RawPipeClient.Frame(RawPipeClient.Request, 0x01020304, -2, [9, 9]);
        var sequence = new ReadOnlySequence<byte>(frame);

        Assert.True(FrameHeader.TryRead(ref sequence, 1024, out FrameHeader header, out ReadOnlySequence<byte> body));
        Assert.Equal(FrameKind.Request, header.Kind);
        Assert.Equal(0x01020304u, header.CorrelationId);
        Assert.Equal(-2, header.MessageType);
        Assert.Equal(2, header.BodyLength);
        Assert.Equal(new byte[] { 9, 9 }, BuffersExtensions.ToArray(body));
        Assert.True(sequence.IsEmpty);

        byte[] written = new byte[16];
        header.Write(written);
        Assert.Equal(frame[..16], written);
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(written.AsSpan(8)));
    }

    [Fact]
    public void An_incomplete_frame_is_left_in_the_buffer_but_a_bad_header_is_refused_at_once()
    {
        byte[] frame = RawPipeClient.Frame(RawPipeClient.Message, 0, 0, new byte[10]);
        var partial = new ReadOnlySequence<byte>(frame, 0, 20);
        Assert.False(FrameHeader.TryRead(ref partial, 1024, out _, out _));
        Assert.Equal(20, partial.Length);

        // Only the 16 header bytes of a frame announcing too much: refused before any body could be buffered.
        var oversize = new ReadOnlySequence<byte>(RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [], announcedLength: 1025));
        Assert.Throws<IpcProtocolException>(() => FrameHeader.TryRead(ref oversize, 1024, out _, out _));
    }

    [Theory]
    [InlineData(1024u, true)]
    [InlineData(1025u, false)]
    [InlineData(0x7FFF_FFFFu, false)]
    [InlineData(0x8000_0000u, false)]
    [InlineData(uint.MaxValue, false)]
    public void A_frame_length_is_checked_as_unsigned_at_the_exact_limit(uint length, bool accepted)
    {
        byte[] header = RawPipeClient.Frame(RawPipeClient.Message, 0, 0, [], announcedLength: length);

        if (accepted)
        {
            Assert.Equal(FrameHeader.Size + (int)length, FrameHeader.Peek(header, 1024, out FrameHeader parsed));
            Assert.Equal((int)length, parsed.BodyLength);
            return;
        }

        var error = Assert.Throws<IpcProtocolException>(() => FrameHeader.Peek(header, 1024, out _));
        Assert.Contains($"{length}-byte body", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_documented_hello_is_what_a_side_sends()
    {
        byte[] body = new byte[PipeProtocol.HelloSize];
        PipeProtocol.WriteHello(body, new PipeProtocol.Hello(PipeProtocol.Version, 16 * 1024 * 1024, 4242, 1024 * 1024, 256));

        Assert.Equal(Convert.FromHexString("4950434B" + "0200" + "0000" + "00000001" + "92100000" + "00001000" + "00010000"), body);
    }

    [Fact]
    public void The_documented_typed_request_response_and_error_bodies_are_what_IpcKit_writes()
    {
        Assert.Equal(0x49b9f160, MessageTypeId.Of<SumRequest>());
        Assert.Equal(unchecked((int)0xfbbc6aec), MessageTypeId.Of<SumResponse>());
        Assert.Equal(Convert.FromHexString("91920102"), MessagePackSerializer.Serialize(new SumRequest { Numbers = [1, 2] }, IpcSerializer.Options));
        Assert.Equal(
            Convert.FromHexString("930302CD1092"),
            MessagePackSerializer.Serialize(new SumResponse { Sum = 3, Count = 2, ProcessId = 4242 }, IpcSerializer.Options));

        var error = new ArrayBufferWriter<byte>();
        PipeProtocol.WriteError(error, "System.InvalidOperationException", "boom");
        Assert.Equal(0x28, error.WrittenCount);
        Assert.Equal(Convert.FromHexString("92D920"), error.WrittenSpan[..3].ToArray());
        Assert.Equal(("System.InvalidOperationException", "boom"), PipeProtocol.ReadError(new ReadOnlySequence<byte>(error.WrittenMemory)));
    }
}
