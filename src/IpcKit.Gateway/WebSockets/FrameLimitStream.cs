using System.Buffers.Binary;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Gateway.WebSockets;

// The upgraded connection under a server WebSocket, read through a parser of the client's frame headers (RFC 6455
// section 5.2). The WebSocket itself only learns a message is too large once its bytes have arrived, so a client that
// announces a 4 GiB frame and trickles it in would hold the connection (and grow a buffer) for as long as it likes.
// Here the announced length is seen as soon as the header is in:
//
//      0                   1                   2                   3
//     |F|R|R|R| opcode|M| len (7) |  extended len (16 or 64), if len is 126 or 127  | masking key (4), if M |
//
// A data frame (text, binary, or a continuation of one) whose length would take its message over the limit makes
// the session close with 1009 at once; the stream passes the header up and then delivers nothing more, so none of the
// oversized payload is read (the close frame goes out; the connection is aborted after the close grace). Control
// frames are left to the WebSocket, which allows at most 125 bytes for them.
internal sealed class FrameLimitStream : Stream
{
    private const int MaxHeaderLength = 14;

    private readonly Stream _inner;
    private readonly HttpContext _context;
    private readonly long _maxMessage;
    private readonly byte[] _header = new byte[MaxHeaderLength];
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _headerFilled;
    private ulong _payloadLeft;
    private ulong _messageLength;
    private bool _blocked;

    public FrameLimitStream(Stream inner, HttpContext context, long maxMessage)
    {
        _inner = inner;
        _context = context;
        _maxMessage = maxMessage;
    }

    /// <summary>Called once, with the message length a frame header announced, when it is over the limit.</summary>
    public Action<ulong>? TooBig { get; set; }

    /// <summary>The WebSocket reading this stream (to tell an orderly close from an abort on dispose).</summary>
    public WebSocket? WebSocket { get; set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_blocked)
        {
            // The rest is the oversized payload: not read. Ends when the connection is aborted.
            await _disposed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }

        int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Inspect(buffer.Span[..read]);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _disposed.TrySetResult();

            // Disposing an upgraded stream does not end the connection by itself: a WebSocket that did not close in
            // an orderly way (aborted, or given up on) takes the connection down with it.
            if (WebSocket?.State != WebSocketState.Closed)
            {
                _context.Abort();
            }

            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Follows the frames in <paramref name="bytes"/>; returns how many of them to pass up.</summary>
    internal int Inspect(ReadOnlySpan<byte> bytes)
    {
        int index = 0;
        while (index < bytes.Length)
        {
            if (_payloadLeft > 0)
            {
                int skip = (int)Math.Min(_payloadLeft, (ulong)(bytes.Length - index));
                _payloadLeft -= (ulong)skip;
                index += skip;
                continue;
            }

            _header[_headerFilled++] = bytes[index++];
            int needed = HeaderLength();
            if (_headerFilled < needed)
            {
                continue;
            }

            _headerFilled = 0;
            if (!Account(out ulong announced))
            {
                _blocked = true;
                TooBig?.Invoke(announced);
                return index;
            }
        }

        return bytes.Length;
    }

    /// <summary>The length of the header being read, as far as its first two bytes tell (2 until they are in).</summary>
    private int HeaderLength()
    {
        if (_headerFilled < 2)
        {
            return 2;
        }

        int length = (_header[1] & 0x7F) switch
        {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        return (_header[1] & 0x80) != 0 ? length + 4 : length;
    }

    /// <summary>Takes in a complete header; false if its frame takes its message over the limit.</summary>
    private bool Account(out ulong messageLength)
    {
        int opcode = _header[0] & 0x0F;
        bool final = (_header[0] & 0x80) != 0;
        ulong payload = (_header[1] & 0x7F) switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2)),
            127 => BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)),
            _ => (ulong)(_header[1] & 0x7F),
        };
        _payloadLeft = payload;
        messageLength = 0;
        if (opcode >= 8)
        {
            // A control frame (close, ping, pong) may come between the fragments of a message.
            return true;
        }

        // Text and binary frames start a message; continuations add to it. Both parts of the sum are at most the
        // limit (an int), so it cannot wrap.
        if (payload > (ulong)_maxMessage)
        {
            messageLength = payload;
            return false;
        }

        messageLength = opcode == 0 ? _messageLength + payload : payload;
        if (messageLength > (ulong)_maxMessage)
        {
            return false;
        }

        _messageLength = final ? 0 : messageLength;
        return true;
    }
}
