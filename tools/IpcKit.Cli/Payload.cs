namespace IpcKit.Cli;

/// <summary>
/// The deterministic payloads the CLI sends (ring produce, pipe send): byte i of message n (n from 0) is
/// (byte)(n * 31 + i). A consumer needs no copy of them: it checks the FNV-1a hash the producer printed.
/// </summary>
internal static class Payload
{
    /// <summary>The bytes <see cref="FillTagged"/> puts before the pattern: a u32 producer id and an i64 sequence number.</summary>
    internal const int TagSize = 12;

    internal static void Fill(Span<byte> payload, long sequence)
    {
        byte start = unchecked((byte)(sequence * 31));
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(start + i));
        }
    }

    /// <summary>
    /// A payload of ring produce: the producer id (u32) and sequence number (i64), little-endian, then the pattern of
    /// <see cref="Fill"/>; a payload shorter than <see cref="TagSize"/> is the plain pattern.
    /// </summary>
    internal static void FillTagged(Span<byte> payload, uint producer, long sequence)
    {
        Fill(payload, sequence);
        if (payload.Length >= TagSize)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload, producer);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(payload[4..], sequence);
        }
    }
}
