namespace IpcKit.Diagnostics;

/// <summary>
/// A running 64-bit FNV-1a hash. The CLI and the demo print it over all payload bytes in order, so a script can
/// compare what a producer sent with what a consumer received.
/// </summary>
internal struct Fnv1a64
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    private ulong _hash;
    private bool _started;

    /// <summary>The hash of everything appended so far (the offset basis when nothing was).</summary>
    public readonly ulong Value => _started ? _hash : OffsetBasis;

    /// <summary>Adds bytes to the hash.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        ulong hash = _started ? _hash : OffsetBasis;
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * Prime;
        }

        _hash = hash;
        _started = true;
    }

    /// <summary>The hash as 16 lowercase hex digits, as the CLI prints it.</summary>
    public readonly override string ToString() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
