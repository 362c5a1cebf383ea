using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>Constants and the small fixed bodies of the wire protocol (docs/pipe-protocol.md).</summary>
internal static class PipeProtocol
{
    /// <summary>The protocol version this build speaks; both sides must speak the same one.</summary>
    internal const ushort Version = 1;

    /// <summary>The hello body: magic "IPCK", u16 version, u16 reserved, u32 largest accepted body, u32 process id.</summary>
    internal const int HelloSize = 16;

    /// <summary>The body of a ping or pong: 8 opaque bytes the pong echoes.</summary>
    internal const int PingSize = 8;

    /// <summary>Hello and pings never need more than this, whatever MaxFrameSize says, so a peer cannot make the handshake allocate.</summary>
    internal const int ControlBodyLimit = 4096;

    internal static ReadOnlySpan<byte> Magic => "IPCK"u8;

    /// <summary>The type name an error frame carries when the sender closes because the peer broke the protocol.</summary>
    internal const string ProtocolErrorType = "IpcKit.IpcProtocolException";

    internal static void WriteHello(Span<byte> destination, ushort version, int maxBodyLength, int processId)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)maxBodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)processId);
    }

    /// <summary>Reads a hello body; longer bodies are allowed (later versions may append fields) and the rest is ignored.</summary>
    internal static (ushort Version, int MaxBodyLength, int ProcessId) ReadHello(in ReadOnlySequence<byte> body)
    {
        if (body.Length < HelloSize)
        {
            throw new IpcProtocolException($"The hello body is {body.Length} bytes; it must be at least {HelloSize}.");
        }

        Span<byte> bytes = stackalloc byte[HelloSize];
        body.Slice(0, HelloSize).CopyTo(bytes);
        if (!bytes[..4].SequenceEqual(Magic))
        {
            throw new IpcProtocolException(
                $"The first frame is not an IpcKit hello (magic {Convert.ToHexString(bytes[..4])}, expected 4950434B 'IPCK'); the peer speaks another protocol or sent garbage.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        uint max = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        uint processId = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        return (version, (int)Math.Min(max, int.MaxValue), (int)Math.Min(processId, int.MaxValue));
    }

    /// <summary>An error body: a MessagePack array of two strings, the exception's type name and its message.</summary>
    internal static void WriteError(IBufferWriter<byte> destination, string typeName, string message)
    {
        var writer = new MessagePackWriter(destination);
        writer.WriteArrayHeader(2);
        writer.Write(typeName);
        writer.Write(message);
        writer.Flush();
    }

    /// <summary>
    /// Writes an error body of at most <paramref name="limit"/> bytes: the message (at most 4000 characters), then the
    /// type name, are shortened until it fits, since a peer refuses a frame larger than it announced. Two empty strings
    /// (3 bytes) always fit a conforming peer's limit.
    /// </summary>
    internal static void WriteErrorWithin(ArrayBufferWriter<byte> destination, string typeName, string message, int limit)
    {
        message = message.Length > 4000 ? message[..4000] : message;
        destination.Clear();
        WriteError(destination, typeName, message);
        while (destination.WrittenCount > limit && (message.Length > 0 || typeName.Length > 0))
        {
            int excess = destination.WrittenCount - limit;
            if (message.Length > 0)
            {
                message = message[..Math.Max(0, message.Length - Math.Max(excess, message.Length / 2))];
            }
            else
            {
                typeName = typeName[..Math.Max(0, typeName.Length - Math.Max(excess, typeName.Length / 2))];
            }

            destination.Clear();
            WriteError(destination, typeName, message);
        }
    }

    internal static (string TypeName, string Message) ReadError(in ReadOnlySequence<byte> body)
    {
        try
        {
            var reader = new MessagePackReader(body);
            int count = reader.ReadArrayHeader();
            if (count < 2)
            {
                throw new IpcProtocolException($"An error frame body must be an array of 2 strings; it has {count} elements.");
            }

            string typeName = reader.ReadString() ?? "";
            string message = reader.ReadString() ?? "";
            return (typeName, message);
        }
        catch (MessagePackSerializationException exception)
        {
            throw new IpcProtocolException("An error frame body is not a MessagePack array of 2 strings.", exception);
        }
        catch (EndOfStreamException exception)
        {
            throw new IpcProtocolException("An error frame body is truncated.", exception);
        }
        catch (ArgumentOutOfRangeException exception)
        {
            // MessagePackReader reads a str32 length above int.MaxValue as a negative count (found by fuzzing).
            throw new IpcProtocolException("An error frame body announces a string longer than the body.", exception);
        }
    }
}
