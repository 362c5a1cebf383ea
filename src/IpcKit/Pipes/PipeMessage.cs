using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>A received one-way message: its type id (0 for raw bytes) and its body, which the receiver owns.</summary>
public readonly struct PipeMessage
{
    /// <summary>Creates a message.</summary>
    public PipeMessage(int typeId, ReadOnlyMemory<byte> body)
    {
        TypeId = typeId;
        Body = body;
    }

    /// <summary>The sender's <see cref="MessageTypeId"/> of the body, or <see cref="MessageTypeId.Untyped"/> (0) for raw bytes.</summary>
    public int TypeId { get; }

    /// <summary>The body: MessagePack for a typed message, the sender's bytes for a raw one.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Whether the body is a <typeparamref name="T"/>, judged by the type id.</summary>
    public bool Is<T>() => TypeId == MessageTypeId.Of<T>();

    /// <summary>Deserializes the body as <typeparamref name="T"/> (untrusted-data settings).</summary>
    /// <exception cref="IpcProtocolException">The type id is not <typeparamref name="T"/>'s or the body is not a valid <typeparamref name="T"/>.</exception>
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
            throw new IpcProtocolException($"A message body is not a valid {typeof(T).FullName}: {exception.Message}", exception);
        }
    }
}
