using System.Buffers.Binary;
using IpcKit.Gateway.WebSockets;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Tests.Gateway;

/// <summary>The client frame parser under the gateway's WebSockets, fed the bytes a client sends, in pieces of any size.</summary>
public sealed class FrameLimitStreamTests
{
    private const int Limit = 1000;

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void A_message_of_exactly_the_limit_passes_and_one_byte_more_is_reported_at_its_header(int piece)
    {
        // Fragments of 400 + 600 bytes (exactly the limit), with a ping between them, then a message of 1001 bytes.
        byte[] ok = [.. Frame(0x1, final: false, 400), .. Frame(0x9, final: true, 4), .. Frame(0x0, final: true, 600)];
        byte[] over = Frame(0x2, final: true, Limit + 1);
        (ulong? reported, int passed) = Feed([.. ok, .. over], piece);
        Assert.Equal((ulong)(Limit + 1), reported);

        // Everything up to the end of the oversized frame's header is passed up, none of its payload.
        Assert.Equal(ok.Length + 2 + 8 + 4, passed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public void Continuations_are_added_up_and_a_new_message_starts_from_zero(int piece)
    {
        byte[] first = [.. Frame(0x1, final: false, 600), .. Frame(0x0, final: true, 400)];
        byte[] second = [.. Frame(0x1, final: false, 999), .. Frame(0x0, final: false, 1)];
        Assert.Null(Feed([.. first, .. second], piece).Reported);
        Assert.Equal(2UL + Limit, Feed([.. second, .. Frame(0x0, final: true, 2)], piece).Reported);
    }

    /// <summary>Feeds <paramref name="bytes"/> in pieces; returns the length reported (if any) and how many bytes were passed up.</summary>
    private static (ulong? Reported, int Passed) Feed(byte[] bytes, int piece)
    {
        using var stream = new FrameLimitStream(Stream.Null, new DefaultHttpContext(), Limit);
        ulong? reported = null;
        stream.TooBig = length => reported = length;
        int passed = 0;
        for (int offset = 0; offset < bytes.Length && reported is null; offset += piece)
        {
            passed += stream.Inspect(bytes.AsSpan(offset, Math.Min(piece, bytes.Length - offset)));
        }

        return (reported, passed);
    }

    /// <summary>A masked client frame with <paramref name="length"/> zero bytes of payload (2-, 4- or 10-byte length form).</summary>
    private static byte[] Frame(int opcode, bool final, int length)
    {
        var frame = new List<byte> { (byte)((final ? 0x80 : 0) | opcode) };
        if (length < 126)
        {
            frame.Add((byte)(0x80 | length));
        }
        else if (length < 1000)
        {
            frame.Add(0x80 | 126);
            frame.AddRange([(byte)(length >> 8), (byte)length]);
        }
        else
        {
            byte[] extended = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(extended, (ulong)length);
            frame.Add(0x80 | 127);
            frame.AddRange(extended);
        }

        frame.AddRange(new byte[4 + length]);
        return [.. frame];
    }
}
