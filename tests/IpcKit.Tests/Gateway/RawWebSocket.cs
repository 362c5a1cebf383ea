using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// A WebSocket client that writes frames byte by byte, for what no well-behaved library sends: a frame header
/// announcing more than the gateway takes, followed by only a trickle of its payload.
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawWebSocket(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Connects and completes the opening handshake (the token in the Authorization header).</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri url, string token, CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync(url.Host, url.Port, cancellationToken);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        var socket = new RawWebSocket(client);
        try
        {
            string request =
                $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Host}:{url.Port}\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ipckit.v1\r\n\r\n";
            await socket._stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
            string head = await socket.ReadHeadAsync(cancellationToken);
            Assert.True(head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), $"The upgrade was refused:\n{head}");
            Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head, StringComparison.Ordinal);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a masked frame header announcing <paramref name="length"/> bytes, then only <paramref name="first"/> of them.</summary>
    public async Task SendHeaderAsync(byte opcode, bool final, ulong length, ReadOnlyMemory<byte> first, CancellationToken cancellationToken)
    {
        var frame = new List<byte> { (byte)((final ? 0x80 : 0) | opcode) };
        if (length < 126)
        {
            frame.Add((byte)(0x80 | (int)length));
        }
        else if (length <= ushort.MaxValue)
        {
            frame.Add(0x80 | 126);
            frame.AddRange([(byte)(length >> 8), (byte)length]);
        }
        else
        {
            frame.Add(0x80 | 127);
            byte[] extended = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(extended, length);
            frame.AddRange(extended);
        }

        // A zero masking key: the payload goes as is.
        frame.AddRange([0, 0, 0, 0]);
        frame.AddRange(first.ToArray());
        await _stream.WriteAsync(frame.ToArray(), cancellationToken);
    }

    /// <summary>Reads frames until a close frame; returns its status code and reason.</summary>
    public async Task<(int Status, string Reason)> ReadCloseAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            byte[] head = await ReadExactlyAsync(2, cancellationToken);
            ulong length = (ulong)(head[1] & 0x7F);
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, cancellationToken));
            }
            else if (length == 127)
            {
                length = BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8, cancellationToken));
            }

            byte[] payload = await ReadExactlyAsync(checked((int)length), cancellationToken);
            if ((head[0] & 0x0F) == 8)
            {
                return (BinaryPrimitives.ReadUInt16BigEndian(payload), Encoding.UTF8.GetString(payload.AsSpan(2)));
            }
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _client.Dispose();
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }

    private async Task<string> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            head.Add((await ReadExactlyAsync(1, cancellationToken))[0]);
        }

        return Encoding.ASCII.GetString([.. head]);
    }
}
