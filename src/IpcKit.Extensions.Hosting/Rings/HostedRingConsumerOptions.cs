namespace IpcKit.Extensions.Hosting;

/// <summary>Settings of a ring consumer registered with <see cref="IpcKitBuilder.AddRingConsumer"/>.</summary>
public sealed class HostedRingConsumerOptions : HostedRingOptions
{
    /// <summary>Whether the consumer creates the ring (default true: the reader owns the queue it reads).</summary>
    public override bool Create { get; set; } = true;

    /// <summary>Whether stopping hands every message already committed to the handlers before detaching (default true).</summary>
    public bool DrainOnStop { get; set; } = true;
}
