using System.Buffers;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>
/// A per-thread scratch buffer a contract is serialized into before it is copied behind its frame header. The header
/// needs the body length first, and serializing straight into the pipe would mean patching a span that an Advance
/// may already have handed on; one copy of a small body is cheaper than that subtlety, and nothing is allocated.
/// </summary>
internal static class SerializationBuffer
{
    // Buffers that grew past this for one big message are dropped, so a thread does not keep megabytes forever.
    private const int KeepLimit = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? s_cached;

    /// <summary>Serializes <paramref name="value"/>; give the buffer back with <see cref="Return"/> once its bytes are copied.</summary>
    internal static ArrayBufferWriter<byte> Serialize<T>(T value)
    {
        // Taken out of the slot, so a serializer that re-enters (a formatter sending?) gets a buffer of its own.
        ArrayBufferWriter<byte> buffer = s_cached ?? new ArrayBufferWriter<byte>(256);
        s_cached = null;
        IpcSerializer.Serialize(buffer, value);
        return buffer;
    }

    internal static void Return(ArrayBufferWriter<byte> buffer)
    {
        if (buffer.Capacity <= KeepLimit)
        {
            buffer.ResetWrittenCount();
            s_cached = buffer;
        }
    }
}
