using System.Buffers;
using IpcKit.Contracts;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Fuzz;

/// <summary>The contracts a peer can send, for targets that pick one by a byte of the input or by a message type id.</summary>
internal static class Contracts
{
    internal static readonly int[] TypeIds =
    [
        MessageTypeId.Of<Toy>(),
        MessageTypeId.Of<TextMessage>(),
        MessageTypeId.Of<SumRequest>(),
        MessageTypeId.Of<SumResponse>(),
        MessageTypeId.Of<IDemoMessage>(),
    ];

    /// <summary>Deserializes <paramref name="body"/> as contract number <paramref name="which"/> (mod 5); returns the object.</summary>
    /// <exception cref="MessagePackSerializationException">The documented failure.</exception>
    internal static object Deserialize(int which, in ReadOnlySequence<byte> body) => (which % TypeIds.Length) switch
    {
        0 => MessagePackSerializer.Deserialize<Toy>(body, IpcSerializer.Options),
        1 => MessagePackSerializer.Deserialize<TextMessage>(body, IpcSerializer.Options),
        2 => MessagePackSerializer.Deserialize<SumRequest>(body, IpcSerializer.Options),
        3 => MessagePackSerializer.Deserialize<SumResponse>(body, IpcSerializer.Options),
        _ => MessagePackSerializer.Deserialize<IDemoMessage>(body, IpcSerializer.Options),
    };

    /// <summary>Serializes <paramref name="value"/> as contract number <paramref name="which"/> (mod 5).</summary>
    internal static byte[] Serialize(int which, object? value) => (which % TypeIds.Length) switch
    {
        0 => MessagePackSerializer.Serialize((Toy)value!, IpcSerializer.Options),
        1 => MessagePackSerializer.Serialize((TextMessage)value!, IpcSerializer.Options),
        2 => MessagePackSerializer.Serialize((SumRequest)value!, IpcSerializer.Options),
        3 => MessagePackSerializer.Serialize((SumResponse)value!, IpcSerializer.Options),
        _ => MessagePackSerializer.Serialize((IDemoMessage?)value, IpcSerializer.Options),
    };

    /// <summary>The contract number a message type id names, or the id mod 5 when it names none (so every body reaches a parser).</summary>
    internal static int ForTypeId(int typeId)
    {
        int index = Array.IndexOf(TypeIds, typeId);
        return index >= 0 ? index : (int)((uint)typeId % (uint)TypeIds.Length);
    }
}
