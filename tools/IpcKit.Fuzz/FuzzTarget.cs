namespace IpcKit.Fuzz;

/// <summary>Runs one fuzz input through the code under test; throws <see cref="FuzzInvariantException"/> (or lets any undocumented exception escape) when the invariant breaks.</summary>
public delegate void FuzzAction(ReadOnlySpan<byte> input);

/// <summary>
/// One fuzz target: a harness function that feeds arbitrary bytes to a reader of another process's bytes, and the
/// bounds the replay test holds it to. The invariant of every target: the code under test answers with one of its
/// documented exceptions, or succeeds; it never crashes, reads out of bounds, hangs or allocates without bound.
/// </summary>
/// <param name="Name">The name run.sh and the corpus folder use.</param>
/// <param name="Description">What the input is and what is checked.</param>
/// <param name="Run">The harness function.</param>
/// <param name="MaxInputLength">The largest input afl-fuzz is given (-G); larger inputs are truncated by the harness.</param>
/// <param name="AllocationBound">Bytes the harness may allocate on the calling thread for an input of the given length; null when the work runs on other threads.</param>
public sealed record FuzzTarget(
    string Name,
    string Description,
    FuzzAction Run,
    int MaxInputLength,
    Func<int, long>? AllocationBound);

/// <summary>Every fuzz target, by name.</summary>
public static class FuzzTargets
{
    /// <summary>All targets, in the order run.sh runs them with "all".</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("pipe-frames",
            "Pipe frame decoder (FrameHeader.TryRead over a segmented sequence) and every body parser: hello, error, typed bodies.",
            PipeFrameTarget.Run, 65536, length => 64 * 1024 + 64L * length),
        new("pipe-session",
            "A real PipeConnection (server or client role) over an in-memory stream fed with the input: handshake, receive loop, dispatch, request completion, close.",
            PipeSessionTarget.Run, 16384, null),
        new("ring",
            "A ring file built from the input (descriptor, positions, records, a second write by a hostile writer), read by a real RingReader, written by a RingWriter, inspected.",
            RingTarget.Run, 12288, length => 512 * 1024 + 64L * length),
        new("contracts",
            "MessagePack deserialization of every contract and the IDemoMessage union with IpcSerializer.Options; what deserializes must re-serialize stably.",
            ContractTarget.Run, 16384, length => 256 * 1024 + 256L * length),
    ];

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name) => All.FirstOrDefault(target => target.Name == name);

    /// <summary>Removes what the targets created in the OS (the ring target's scratch ring).</summary>
    public static void Cleanup() => RingTarget.Cleanup();
}

/// <summary>The invariant of a fuzz target broke: an unexpected outcome, a hang, or a wrong result.</summary>
public sealed class FuzzInvariantException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Throws when <paramref name="condition"/> is false.</summary>
    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}
