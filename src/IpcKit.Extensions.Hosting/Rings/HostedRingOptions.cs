using IpcKit.SharedMemory;

namespace IpcKit.Extensions.Hosting;

/// <summary>Settings of a hosted ring consumer or producer, bound from <c>IpcKit:Rings:NAME</c> in configuration.</summary>
public abstract class HostedRingOptions
{
    private static readonly RingOptions s_ring = new();
    private static readonly RingEndpointOptions s_endpoint = new();

    /// <summary>
    /// The ring's OS name; null uses the name a parent passed for this channel (a paired child), else the name it was
    /// registered under.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// Whether this side creates the ring when the host starts (and deletes it when the host stops). The other side
    /// waits for it to appear. A ring left by a process that died is reclaimed; a ring in use is attached as it is.
    /// </summary>
    public abstract bool Create { get; set; }

    /// <summary>The data area in bytes, when this side creates the ring.</summary>
    public long Capacity { get; set; } = s_ring.Capacity;

    /// <summary>The largest message body, when this side creates the ring; null for the ring's default.</summary>
    public int? MaxMessageSize { get; set; } = s_ring.MaxMessageSize;

    /// <summary>How long the peer's heartbeat may be silent before it counts as gone.</summary>
    public TimeSpan PeerTimeout { get; set; } = s_endpoint.PeerTimeout;

    /// <summary>The timeout of a call (a send waiting for room, a wait for the ring to appear) that passes none.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
