using System.Buffers;
using System.Buffers.Binary;

namespace IpcKit.Pipes;

/// <summary>
/// The fixed 16-byte header in front of every frame body, all fields little-endian:
/// <code>
///  0      4    5     6         8                12               16
///  +------+----+-----+---------+----------------+----------------+--------------------
///  | len  |kind|flags|reserved | correlation id | message type   | body (len bytes)
///  | u32  | u8 | u8  |  u16    |      u32       |      i32       |
///  +------+----+-----+---------+----------------+----------------+--------------------
/// </code>
/// flags and reserved are 0 in version 2; a receiver rejects anything else, so they can gain a meaning later.
/// </summary>
internal readonly struct FrameHeader
{
    internal const int Size = 16;

    private const int LengthOffset = 0;
    private const int KindOffset = 4;
    private const int FlagsOffset = 5;
    private const int ReservedOffset = 6;
    private const int CorrelationOffset = 8;
    private const int TypeOffset = 12;

    internal FrameHeader(FrameKind kind, int bodyLength, uint correlationId, int messageType)
    {
        Kind = kind;
        BodyLength = bodyLength;
        CorrelationId = correlationId;
        MessageType = messageType;
    }

    internal FrameKind Kind { get; }

    internal int BodyLength { get; }

    internal uint CorrelationId { get; }

    internal int MessageType { get; }

    internal void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LengthOffset..], (uint)BodyLength);
        destination[KindOffset] = (byte)Kind;
        destination[FlagsOffset] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[ReservedOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[CorrelationOffset..], CorrelationId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[TypeOffset..], MessageType);
    }

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>. The header is validated as soon as its 16 bytes
    /// are there, before the body has arrived, so an oversize length is refused before anything is buffered for it.
    /// </summary>
    /// <returns>False when the frame is not complete yet; <paramref name="buffer"/> is then unchanged.</returns>
    /// <exception cref="IpcProtocolException">The header is invalid.</exception>
    internal static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxBodyLength, out FrameHeader header, out ReadOnlySequence<byte> body)
    {
        body = default;
        if (buffer.Length < Size)
        {
            header = default;
            return false;
        }

        ReadOnlySpan<byte> first = buffer.FirstSpan;
        Span<byte> copy = stackalloc byte[Size];
        scoped ReadOnlySpan<byte> bytes;
        if (first.Length >= Size)
        {
            bytes = first[..Size];
        }
        else
        {
            buffer.Slice(0, Size).CopyTo(copy);
            bytes = copy;
        }

        header = Parse(bytes, maxBodyLength);
        long total = (long)Size + header.BodyLength;
        if (buffer.Length < total)
        {
            return false;
        }

        body = buffer.Slice(Size, header.BodyLength);
        buffer = buffer.Slice(body.End);
        return true;
    }

    /// <summary>
    /// Looks at the frame at the front of <paramref name="buffer"/>: once its 16 header bytes are there they are
    /// validated (before the body has arrived) and the frame's total length is returned; 0 while fewer are there.
    /// </summary>
    /// <exception cref="IpcProtocolException">The header is invalid.</exception>
    internal static int Peek(ReadOnlySpan<byte> buffer, int maxBodyLength, out FrameHeader header)
    {
        if (buffer.Length < Size)
        {
            header = default;
            return 0;
        }

        header = Parse(buffer, maxBodyLength);
        return Size + header.BodyLength;
    }

    internal static FrameHeader Parse(ReadOnlySpan<byte> bytes, int maxBodyLength)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[LengthOffset..]);
        byte kind = bytes[KindOffset];
        if (kind > (byte)FrameKind.Credit)
        {
            throw new IpcProtocolException($"Unknown frame kind {kind}; version {PipeProtocol.Version} knows kinds 0 to {(byte)FrameKind.Credit}.");
        }

        if (bytes[FlagsOffset] != 0 || BinaryPrimitives.ReadUInt16LittleEndian(bytes[ReservedOffset..]) != 0)
        {
            throw new IpcProtocolException(
                $"Frame header bytes 5-7 must be zero in protocol version {PipeProtocol.Version} (got {Convert.ToHexString(bytes[FlagsOffset..CorrelationOffset])}); the peer speaks another protocol or sent garbage.");
        }

        // Compared as unsigned: a length of 2^31 or more must not turn negative and slip under the limit.
        if (length > (uint)maxBodyLength)
        {
            throw new IpcProtocolException(
                $"A {(FrameKind)kind} frame announces a {length}-byte body; the largest this side accepts here is {maxBodyLength} bytes.");
        }

        return new FrameHeader(
            (FrameKind)kind,
            (int)length,
            BinaryPrimitives.ReadUInt32LittleEndian(bytes[CorrelationOffset..]),
            BinaryPrimitives.ReadInt32LittleEndian(bytes[TypeOffset..]));
    }
}
