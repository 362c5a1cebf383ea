using MessagePack;

namespace IpcKit.Contracts;

/// <summary>The answer to a <see cref="SumRequest"/>.</summary>
[MessagePackObject]
public sealed class SumResponse : IDemoMessage
{
    /// <summary>The sum of the numbers.</summary>
    [Key(0)]
    public long Sum { get; set; }

    /// <summary>How many numbers were added.</summary>
    [Key(1)]
    public int Count { get; set; }

    /// <summary>The process that computed it.</summary>
    [Key(2)]
    public int ProcessId { get; set; }
}
