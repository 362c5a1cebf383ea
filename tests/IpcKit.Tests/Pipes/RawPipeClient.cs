using System.Buffers.Binary;
using System.Net.Sockets;

namespace IpcKit.Tests.Pipes;

/// <summary>
/// A client written from docs/pipe-protocol.md alone, over a bare socket: what a client in another language would do.
/// Tests use it to send exactly the bytes they want, good or bad.
/// </summary>
internal sealed class RawPipeClient : IDisposable
{
    public const byte Hello = 0;
    public const byte Message = 1;
    public const byte Request = 2;
    public const byte Response = 3;
    public const byte Error = 4;
    public const byte Ping = 5;
    public const byte Pong = 6;
    public const byte Close = 7;
    public const byte Credit = 8;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawPipeClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<RawPipeClient> ConnectAsync(string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(IpcName.GetPipePath(name))).WaitAsync(TestTimeouts.Unexpected);
            return new RawPipeClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static RawPipeClient FromAccepted(Socket socket) => new(socket);

    /// <summary>Header (length, kind, flags, reserved, correlation id, message type; little-endian) and body.</summary>
    public static byte[] Frame(byte kind, uint correlationId, int messageType, ReadOnlySpan<byte> body, uint? announcedLength = null, byte flags = 0)
    {
        byte[] frame = new byte[16 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, announcedLength ?? (uint)body.Length);
        frame[4] = kind;
        frame[5] = flags;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), correlationId);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(12), messageType);
        body.CopyTo(frame.AsSpan(16));
        return frame;
    }

    /// <summary>
    /// A hello frame: "IPCK", version, reserved, largest accepted body, process id, receive window, request limit
    /// (version 1 had only the first five fields); <paramref name="bodyLength"/> pads the body with zeros.
    /// </summary>
    public static byte[] HelloFrame(ushort version = 2, uint maxBody = 1 << 20, uint window = 1 << 20, uint maxRequests = 256, uint? processId = null, int? bodyLength = null)
    {
        byte[] body = new byte[bodyLength ?? (version == 1 ? 16 : 24)];
        "IPCK"u8.CopyTo(body);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), version);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), maxBody);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), processId ?? (uint)Environment.ProcessId);
        if (body.Length >= 24)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), window);
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(20), maxRequests);
        }

        return Frame(Hello, 0, 0, body);
    }

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes).AsTask().WaitAsync(TestTimeouts.Unexpected);

    /// <summary>Sends our hello and reads the server's; fails the test unless it is a version 2 hello. Returns the server's window and request limit.</summary>
    public async Task<(uint Window, uint MaxRequests)> HandshakeAsync(byte[]? hello = null)
    {
        await SendAsync(hello ?? HelloFrame());
        (byte kind, _, _, byte[] body) = await ReadFrameAsync() ?? throw new InvalidOperationException("The server closed during the handshake.");
        Assert.Equal(Hello, kind);
        Assert.True(body.AsSpan(0, 4).SequenceEqual("IPCK"u8));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(4)));
        return (BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(16)), BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(20)));
    }

    /// <summary>Reads one frame; null when the peer closed the connection (EOF or reset) first.</summary>
    public async Task<(byte Kind, uint CorrelationId, int MessageType, byte[] Body)?> ReadFrameAsync()
    {
        byte[] header = new byte[16];
        if (!await ReadExactlyAsync(header))
        {
            return null;
        }

        byte[] body = new byte[BinaryPrimitives.ReadUInt32LittleEndian(header)];
        if (!await ReadExactlyAsync(body))
        {
            return null;
        }

        return (header[4], BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8)), BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12)), body);
    }

    /// <summary>Reads the next frame that is not the peer's heartbeat (a ping its timer sent while the test was busy); null when the peer closed first.</summary>
    public async Task<(byte Kind, uint CorrelationId, int MessageType, byte[] Body)?> ReadNextAfterHeartbeatsAsync()
    {
        while (true)
        {
            var frame = await ReadFrameAsync().WaitAsync(TestTimeouts.Unexpected);
            if (frame is not { Kind: Ping })
            {
                return frame;
            }
        }
    }

    /// <summary>Reads and returns frames until the peer closes the connection; fails the test if it does not within the deadline.</summary>
    public async Task<List<(byte Kind, uint CorrelationId, int MessageType, byte[] Body)>> ReadUntilClosedAsync()
    {
        var frames = new List<(byte, uint, int, byte[])>();
        while (await ReadFrameAsync().WaitAsync(TestTimeouts.Unexpected) is { } frame)
        {
            frames.Add(frame);
        }

        return frames;
    }

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose() => _stream.Dispose();

    private async Task<bool> ReadExactlyAsync(byte[] buffer)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
        catch (IOException exception) when (exception.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return false;
        }
    }
}
