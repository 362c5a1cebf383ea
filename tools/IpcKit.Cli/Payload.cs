namespace IpcKit.Cli;

/// <summary>
/// The deterministic payloads the CLI sends (ring produce, pipe send): byte i of message n (n from 0) is
/// (byte)(n * 31 + i). A consumer needs no copy of them: it checks the FNV-1a hash the producer printed.
/// </summary>
internal static class Payload
{
    internal static void Fill(Span<byte> payload, long sequence)
    {
        byte start = unchecked((byte)(sequence * 31));
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(start + i));
        }
    }
}
