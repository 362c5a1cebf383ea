using System.Buffers;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>Reading frame bodies that came from another process.</summary>
internal static class PipeBody
{
    /// <summary>Deserializes with the untrusted-data settings; a bad body is the peer's fault, hence a protocol error.</summary>
    internal static T Deserialize<T>(in ReadOnlySequence<byte> body, string what)
    {
        try
        {
            return IpcSerializer.Deserialize<T>(body);
        }
        catch (MessagePackSerializationException exception)
        {
            throw new IpcProtocolException($"The body of a {what} is not a valid {typeof(T).FullName}: {exception.Message}", exception);
        }
    }

    /// <summary>Checks a frame's message type id against the one the receiver expects.</summary>
    internal static void CheckType<T>(int typeId, string what)
    {
        int expected = MessageTypeId.Of<T>();
        if (typeId != expected)
        {
            throw new IpcProtocolException($"A {what} came back of another type: {IpcSerializer.Mismatch<T>(typeId)}.");
        }
    }
}
