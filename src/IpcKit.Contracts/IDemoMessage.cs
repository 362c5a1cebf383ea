using MessagePack;

namespace IpcKit.Contracts;

/// <summary>
/// Any of the demo's messages: a union, so one channel can carry several types and the receiver gets the right one.
/// Union keys are part of the wire format: never reuse or renumber one, only add new ones.
/// </summary>
[Union(0, typeof(Toy))]
[Union(1, typeof(TextMessage))]
[Union(2, typeof(SumRequest))]
[Union(3, typeof(SumResponse))]
public interface IDemoMessage
{
}
