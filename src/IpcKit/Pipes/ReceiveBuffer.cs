using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>
/// A receive loop's buffer, counted by its users. Frames are parsed and handed to handlers in place, without a copy;
/// a handler that is still running when the loop needs room to read (an asynchronous raw handler whose body must stay
/// valid until its task completes, or a thread held up in application code when another took over reading) keeps this
/// buffer, and the loop moves on to a fresh one. The array goes back to the pool when the last user lets go.
/// </summary>
internal sealed class ReceiveBuffer
{
    private int _users = 1;

    private ReceiveBuffer(byte[] array)
    {
        Array = array;
    }

    /// <summary>The bytes.</summary>
    internal byte[] Array { get; }

    /// <summary>Whether someone besides the receive loop holds the buffer.</summary>
    internal bool IsShared => Volatile.Read(ref _users) > 1;

    /// <summary>A buffer of at least <paramref name="size"/> bytes, held by the caller.</summary>
    internal static ReceiveBuffer Rent(int size) => new(ArrayPool<byte>.Shared.Rent(size));

    /// <summary>One more user (a handler keeping a body).</summary>
    internal void Hold() => Interlocked.Increment(ref _users);

    /// <summary>A user lets go; the last one returns the array.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _users) == 0)
        {
            ArrayPool<byte>.Shared.Return(Array);
        }
    }
}
