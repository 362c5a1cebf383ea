namespace IpcKit.Extensions.Hosting;

/// <summary>Settings of a ring producer registered with <see cref="IpcKitBuilder.AddRingProducer"/>.</summary>
public sealed class HostedRingProducerOptions : HostedRingOptions
{
    /// <summary>Whether the producer creates the ring (default false: it waits for the consumer's).</summary>
    public override bool Create { get; set; }
}
