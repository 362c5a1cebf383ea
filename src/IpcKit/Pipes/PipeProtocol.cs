using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>Constants and the small fixed bodies of the wire protocol (docs/pipe-protocol.md).</summary>
internal static class PipeProtocol
{
    /// <summary>The protocol version this build speaks; both sides must speak the same one.</summary>
    /// <remarks>Version 2 added flow control: the receive window and request limit in the hello, and the credit frame.</remarks>
    internal const ushort Version = 2;

    /// <summary>
    /// The hello body: magic "IPCK", u16 version, u16 reserved, u32 largest accepted body, u32 process id, u32 receive
    /// window (bytes of one-way messages the peer may send ahead of this side's consumption), u32 request limit.
    /// </summary>
    internal const int HelloSize = 24;

    /// <summary>The body of a ping or pong: 8 opaque bytes the pong echoes.</summary>
    internal const int PingSize = 8;

    /// <summary>The body of a credit frame: u32, the bytes of one-way messages consumed.</summary>
    internal const int CreditSize = 4;

    /// <summary>Hello and error bodies never need more than this, whatever MaxFrameSize says, so a peer cannot make the handshake allocate.</summary>
    internal const int ControlBodyLimit = 4096;

    /// <summary>The type name an error frame carries when the sender closes because the peer broke the protocol.</summary>
    internal const string ProtocolErrorType = "IpcKit.IpcProtocolException";

    /// <summary>The type name of the error a server answers a hello with when it is at its connection limit.</summary>
    internal const string ServerFullType = "IpcKit.Pipes.ServerFull";

    /// <summary>The type name of the error answer to a request type nobody handles.</summary>
    internal const string NoHandlerType = "IpcKit.Pipes.NoHandler";

    internal static ReadOnlySpan<byte> Magic => "IPCK"u8;

    /// <summary>What a one-way message costs in a receive window: its header and its body.</summary>
    internal static int MessageCost(int bodyLength) => FrameHeader.Size + bodyLength;

    internal static void WriteHello(Span<byte> destination, in Hello hello)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], hello.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)hello.MaxBodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)hello.ProcessId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)hello.ReceiveWindow);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)hello.MaxRequests);
    }

    /// <summary>Reads a hello body; longer bodies are allowed (later versions may append fields) and the rest is ignored.</summary>
    /// <exception cref="IpcProtocolException">Not a hello (too short, wrong magic). The version is returned, not checked.</exception>
    internal static Hello ReadHello(ReadOnlySpan<byte> body)
    {
        // The version is read first, from the fixed part every version shares, so a peer of another version is told so.
        if (body.Length < 8 || !body[..4].SequenceEqual(Magic))
        {
            throw new IpcProtocolException(body.Length >= 4
                ? $"The first frame is not an IpcKit hello (magic {Convert.ToHexString(body[..4])}, expected 4950434B 'IPCK'); the peer speaks another protocol or sent garbage."
                : $"The hello body is {body.Length} bytes; it must be at least {HelloSize}.");
        }

        // Versions 1 and 2 share the first 16 bytes: even a peer of another version is refused within what it accepts.
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(body[4..]);
        if (version != Version)
        {
            return new Hello(version, body.Length >= 12 ? Clamp(BinaryPrimitives.ReadUInt32LittleEndian(body[8..])) : 0, 0, 0, 0);
        }

        if (body.Length < HelloSize)
        {
            throw new IpcProtocolException($"The hello body is {body.Length} bytes; it must be at least {HelloSize}.");
        }

        return new Hello(
            version,
            Clamp(BinaryPrimitives.ReadUInt32LittleEndian(body[8..])),
            Clamp(BinaryPrimitives.ReadUInt32LittleEndian(body[12..])),
            Clamp(BinaryPrimitives.ReadUInt32LittleEndian(body[16..])),
            Clamp(BinaryPrimitives.ReadUInt32LittleEndian(body[20..])));
    }

    private static int Clamp(uint value) => (int)Math.Min(value, int.MaxValue);

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

    internal static (string TypeName, string Message) ReadError(ReadOnlyMemory<byte> body) => ReadError(new ReadOnlySequence<byte>(body));

    /// <summary>What a hello announces.</summary>
    /// <param name="Version">The protocol version the sender speaks.</param>
    /// <param name="MaxBodyLength">The largest frame body the sender accepts.</param>
    /// <param name="ProcessId">The sender's process id (informational: the kernel's answer wins where there is one).</param>
    /// <param name="ReceiveWindow">Bytes of one-way messages (headers included) the receiver of this hello may send ahead of the sender's consumption.</param>
    /// <param name="MaxRequests">Requests the receiver of this hello may have unanswered at once.</param>
    internal readonly record struct Hello(ushort Version, int MaxBodyLength, int ProcessId, int ReceiveWindow, int MaxRequests);
}
