using IpcKit.Pipes;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// Settings of a hosted pipe server or client, bound from <c>IpcKit:Pipes:NAME</c> in configuration. Defaults are the
/// pipe channel's own (<see cref="PipeChannelOptions"/>); the host's <c>ILoggerFactory</c> is passed on by the host.
/// </summary>
public abstract class HostedPipeOptions
{
    private static readonly PipeServerOptions s_defaults = new();

    /// <summary>
    /// The pipe's OS name; null uses the name a parent passed for this channel (a paired child), else the name it was
    /// registered under.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>The largest frame body accepted from the peer, in bytes.</summary>
    public int MaxFrameSize { get; set; } = s_defaults.MaxFrameSize;

    /// <summary>How long the connection may be idle before this side sends a ping.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = s_defaults.HeartbeatInterval;

    /// <summary>How long without a byte from the peer before the connection fails.</summary>
    public TimeSpan PeerTimeout { get; set; } = s_defaults.PeerTimeout;

    /// <summary>How long the peer has to complete the handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = s_defaults.HandshakeTimeout;

    /// <summary>The timeout of a call (request, send) that passes none.</summary>
    public TimeSpan DefaultTimeout { get; set; } = s_defaults.DefaultTimeout;

    /// <summary>Bytes queued for sending above which senders wait for the peer to read.</summary>
    public int SendBufferLimit { get; set; } = s_defaults.SendBufferLimit;

    /// <summary>Whether only processes of the current user may connect.</summary>
    public bool CurrentUserOnly { get; set; } = s_defaults.CurrentUserOnly;
}
