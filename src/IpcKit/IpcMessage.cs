using IpcKit.Serialization;
using MessagePack;

namespace IpcKit;

/// <summary>A received message on any transport: its type id (0 for raw bytes) and its body.</summary>
/// <param name="TypeId">The sender's <see cref="MessageTypeId"/> of the body, or <see cref="MessageTypeId.Untyped"/> (0) for raw bytes.</param>
/// <param name="Body">The body: MessagePack for a contract, the sender's bytes for a raw message.</param>
public readonly record struct IpcMessage(int TypeId, ReadOnlyMemory<byte> Body)
{
    /// <summary>Whether the body is a <typeparamref name="T"/>, judged by the type id.</summary>
    public bool Is<T>() => TypeId == MessageTypeId.Of<T>();

    /// <summary>Deserializes the body as <typeparamref name="T"/> with <see cref="IpcSerializer.Options"/> (untrusted data).</summary>
    /// <exception cref="IpcProtocolException">The type id is not <typeparamref name="T"/>'s, or the body is not a valid <typeparamref name="T"/>.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> is not a MessagePack contract.</exception>
    public T Deserialize<T>()
    {
        int expected = MessageTypeId.Of<T>();
        if (TypeId != expected)
        {
            throw new IpcProtocolException($"Cannot read it as asked: {IpcSerializer.Mismatch<T>(TypeId)}.");
        }

        try
        {
            return IpcSerializer.Deserialize<T>(Body);
        }
        catch (MessagePackSerializationException exception)
        {
            throw new IpcProtocolException($"A message body is not a valid {MessageTypeId.Describe(expected)}: {exception.Message}", exception);
        }
    }

    /// <summary>The type id as <see cref="MessageTypeId.Describe"/> prints it, and the body's length.</summary>
    public override string ToString() => $"{MessageTypeId.Describe(TypeId)}, {Body.Length} bytes";
}
