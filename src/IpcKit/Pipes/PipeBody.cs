using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>Reading frame bodies that came from another process.</summary>
internal static class PipeBody
{
    /// <summary>Deserializes with the untrusted-data settings; a bad body is the peer's fault, hence a protocol error.</summary>
    internal static T Deserialize<T>(ReadOnlyMemory<byte> body, string what)
    {
        try
        {
            return IpcSerializer.Deserialize<T>(body);
        }
        catch (MessagePackSerializationException exception)
        {
            throw new IpcProtocolException($"The body of a {what} is not a valid {MessageTypeId.Describe(MessageTypeId.Of<T>())}: {exception.Message}", exception);
        }
    }
}
