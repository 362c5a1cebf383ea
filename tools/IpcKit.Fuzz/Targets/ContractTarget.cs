using System.Buffers;
using MessagePack;

namespace IpcKit.Fuzz;

/// <summary>
/// Contract deserialization: byte 0 picks the contract (Toy, TextMessage, SumRequest, SumResponse, the IDemoMessage
/// union), the rest is the MessagePack body another process sent. Only MessagePackSerializationException may escape
/// the serializer; whatever deserializes must serialize again, and that must deserialize to the same bytes.
/// </summary>
internal static class ContractTarget
{
    internal static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0)
        {
            return;
        }

        int which = input[0];
        object value;
        try
        {
            value = Contracts.Deserialize(which, new ReadOnlySequence<byte>(input[1..].ToArray()));
        }
        catch (MessagePackSerializationException)
        {
            return;
        }

        // A union that read nil is null; anything else must survive a round trip unchanged.
        byte[] once = Contracts.Serialize(which, value);
        byte[] twice = Contracts.Serialize(which, Contracts.Deserialize(which, new ReadOnlySequence<byte>(once)));
        FuzzInvariantException.Check(once.AsSpan().SequenceEqual(twice), "a deserialized contract does not round-trip to the same bytes");
    }
}
