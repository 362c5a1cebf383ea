using MessagePack;

namespace WorkerPair;

// The pair's contracts: the child asks the parent to add numbers over the pipe, and reports each answer on the ring.

/// <summary>A request to the parent's pipe server "calc".</summary>
[MessagePackObject]
public sealed class AddRequest
{
    [Key(0)]
    public long[] Numbers { get; set; } = [];
}

/// <summary>The answer to an <see cref="AddRequest"/>.</summary>
[MessagePackObject]
public sealed class AddResponse
{
    [Key(0)]
    public long Sum { get; set; }
}

/// <summary>A round of the exchange, reported by the child on the ring "events".</summary>
[MessagePackObject]
public sealed class RoundDone
{
    [Key(0)]
    public int Round { get; set; }

    [Key(1)]
    public long Sum { get; set; }

    [Key(2)]
    public int ChildProcessId { get; set; }
}
