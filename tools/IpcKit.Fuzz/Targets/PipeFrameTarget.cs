using System.Buffers;
using IpcKit.Pipes;

namespace IpcKit.Fuzz;

/// <summary>
/// The pipe frame decoder and body parsers, the pure functions the receive loop and the handshake use. Byte 0 picks
/// the largest body this side accepts (0, 16, 1024, 4096 as in the handshake, 16 MiB as by default), byte 1 how the
/// stream is cut into segments, the rest is what the peer wrote. Only IpcProtocolException may escape; every frame
/// taken off the stream must be within the limit and account for exactly its bytes.
/// </summary>
internal static class PipeFrameTarget
{
    private static readonly int[] s_limits = [0, 16, 1024, PipeProtocol.ControlBodyLimit, 16 * 1024 * 1024];

    internal static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
        {
            return;
        }

        int limit = s_limits[input[0] % s_limits.Length];
        ReadOnlySequence<byte> buffer = Segments.Create(input[2..], input[1]);
        long total = buffer.Length;
        long consumed = 0;
        int frames = 0;
        try
        {
            while (true)
            {
                ReadOnlySequence<byte> before = buffer;
                if (!FrameHeader.TryRead(ref buffer, limit, out FrameHeader header, out ReadOnlySequence<byte> body))
                {
                    // An incomplete frame leaves the buffer as it was, for the next read to complete.
                    FuzzInvariantException.Check(buffer.Start.Equals(before.Start) && buffer.Length == before.Length, "an incomplete frame moved the buffer");
                    break;
                }

                frames++;
                FuzzInvariantException.Check(header.BodyLength >= 0 && header.BodyLength <= limit, $"a frame of {header.BodyLength} bytes passed a limit of {limit}");
                FuzzInvariantException.Check(body.Length == header.BodyLength, "the body is not as long as the header says");
                FuzzInvariantException.Check(header.Kind <= FrameKind.Credit, "an unknown frame kind passed");
                consumed += FrameHeader.Size + body.Length;
                FuzzInvariantException.Check(consumed + buffer.Length == total, "frames do not account for the bytes they took");
                ParseBody(header, body);
            }
        }
        catch (IpcProtocolException)
        {
            // The documented answer to a bad frame: the connection is closed with this reason.
        }

        FuzzInvariantException.Check(frames <= total / FrameHeader.Size, "more frames than 16-byte headers fit in the input");
    }

    private static void ParseBody(FrameHeader header, ReadOnlySequence<byte> body)
    {
        switch (header.Kind)
        {
            case FrameKind.Hello:
                PipeProtocol.Hello hello = PipeProtocol.ReadHello(body.ToArray());
                FuzzInvariantException.Check(
                    hello.MaxBodyLength >= 0 && hello.ProcessId >= 0 && hello.ReceiveWindow >= 0 && hello.MaxRequests >= 0,
                    "a hello yielded a negative limit or process id");
                break;
            case FrameKind.Error:
                (string type, string message) = PipeProtocol.ReadError(body);
                FuzzInvariantException.Check(type is not null && message is not null, "an error frame yielded null strings");
                break;
            case FrameKind.Message:
            case FrameKind.Request:
            case FrameKind.Response:
                if (header.MessageType != 0)
                {
                    // The receive path: PipeBody for requests, responses and handlers, IpcMessage for the inbox.
                    int which = Contracts.ForTypeId(header.MessageType);
                    byte[] bytes = body.ToArray();
                    ParseTyped(which, bytes);
                    DeserializeMessage(which, new IpcMessage(Contracts.TypeIds[which], bytes));
                }

                break;
            default:
                break;
        }
    }

    private static void ParseTyped(int which, ReadOnlyMemory<byte> body)
    {
        _ = which switch
        {
            0 => (object)PipeBody.Deserialize<IpcKit.Contracts.Toy>(body, "message"),
            1 => PipeBody.Deserialize<IpcKit.Contracts.TextMessage>(body, "message"),
            2 => PipeBody.Deserialize<IpcKit.Contracts.SumRequest>(body, "request"),
            3 => PipeBody.Deserialize<IpcKit.Contracts.SumResponse>(body, "response"),
            _ => PipeBody.Deserialize<IpcKit.Contracts.IDemoMessage>(body, "message"),
        };
    }

    private static void DeserializeMessage(int which, IpcMessage message)
    {
        _ = which switch
        {
            0 => (object)message.Deserialize<IpcKit.Contracts.Toy>(),
            1 => message.Deserialize<IpcKit.Contracts.TextMessage>(),
            2 => message.Deserialize<IpcKit.Contracts.SumRequest>(),
            3 => message.Deserialize<IpcKit.Contracts.SumResponse>(),
            _ => message.Deserialize<IpcKit.Contracts.IDemoMessage>(),
        };
    }
}
