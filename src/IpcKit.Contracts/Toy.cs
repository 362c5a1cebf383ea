using MessagePack;

namespace IpcKit.Contracts;

/// <summary>The demo's toy: a numbered thing a producer hands to a consumer.</summary>
[MessagePackObject]
public sealed class Toy : IDemoMessage
{
    /// <summary>The producer's sequence number, from 1.</summary>
    [Key(0)]
    public long Sequence { get; set; }

    /// <summary>What the toy is called.</summary>
    [Key(1)]
    public string Name { get; set; } = "";

    /// <summary>Who sent it (for example "producer 4242").</summary>
    [Key(2)]
    public string Sender { get; set; } = "";

    /// <summary>When it was sent, in UTC.</summary>
    [Key(3)]
    public DateTime SentAtUtc { get; set; }
}
