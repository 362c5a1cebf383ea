namespace IpcKit.SharedMemory;

/// <summary>
/// The writer of a broadcast ring that applies back-pressure dropped this subscriber: it had stopped reading for longer
/// than the writer's <see cref="RingEndpointOptions.SlowSubscriberTimeout"/>, or looked dead. Attach again to go on.
/// </summary>
public sealed class RingSubscriberDroppedException : IpcException
{
    /// <summary>Creates the exception with the subscriber's position when it learned it was dropped.</summary>
    public RingSubscriberDroppedException(string message, long position)
        : base(message)
    {
        Position = position;
    }

    /// <summary>The subscriber's position when it learned it was dropped.</summary>
    public long Position { get; }
}
