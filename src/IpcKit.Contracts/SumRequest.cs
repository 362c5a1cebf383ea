using MessagePack;

namespace IpcKit.Contracts;

/// <summary>The demo's request: add these numbers.</summary>
[MessagePackObject]
public sealed class SumRequest : IDemoMessage
{
    /// <summary>The numbers to add.</summary>
    [Key(0)]
    public long[] Numbers { get; set; } = [];
}
