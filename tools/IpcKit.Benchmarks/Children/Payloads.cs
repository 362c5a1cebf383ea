namespace IpcKit.Benchmarks.Children;

/// <summary>Request payloads that differ per request, so an echo that answered the wrong request is caught.</summary>
internal static class Payloads
{
    /// <summary>Byte i of request n is (byte)(n * 31 + i), the pattern of <c>ipckit pipe call</c>.</summary>
    internal static void Fill(Span<byte> payload, long n)
    {
        byte first = unchecked((byte)(n * 31));
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(first + i));
        }
    }
}
