using Microsoft.Extensions.Logging;

namespace IpcKit.Pipes;

/// <summary>Settings both ends of a pipe connection use; see <see cref="PipeServerOptions"/> and <see cref="PipeClientOptions"/>.</summary>
public class PipeChannelOptions
{
    /// <summary>The largest frame body accepted from the peer, in bytes; a larger frame closes the connection (default 16 MiB).</summary>
    public int MaxFrameSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>How long the connection may be idle before this side sends a ping (default 500 ms).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long without a byte from the peer before it is declared unresponsive and the connection fails (default 2 s).</summary>
    public TimeSpan PeerTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the peer has to complete the handshake (default 5 s).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a send, a request or a connect waits when the caller passes no timeout (default 30 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits without limit).
    /// </summary>
    public TimeSpan DefaultTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes queued for sending above which senders wait for the peer to read its socket (default 1 MiB).</summary>
    public int SendBufferLimit { get; init; } = 1024 * 1024;

    /// <summary>
    /// Bytes of one-way messages (headers included) the peer may send ahead of what this side's handlers and readers
    /// have consumed (default 1 MiB); announced in the hello. Beyond it the peer's sends wait: flow control, so that
    /// messages nobody takes fast enough never hold up requests and answers on the same connection.
    /// </summary>
    public int ReceiveBufferLimit { get; init; } = 1024 * 1024;

    /// <summary>Requests the peer may have unanswered on one connection at once (default 256); announced in the hello, so the peer's further requests wait for a slot.</summary>
    public int MaxConcurrentRequestsPerConnection { get; init; } = 256;

    /// <summary>What happens to a one-way message that no handler takes and no reader is reading (default <see cref="PipeUnhandledMessages.Drop"/>).</summary>
    public PipeUnhandledMessages UnhandledMessages { get; init; } = PipeUnhandledMessages.Drop;

    /// <summary>
    /// The slowest rate, in bytes per second, at which a frame that has begun to arrive must keep arriving after a
    /// grace of <see cref="PeerTimeout"/> (default 64 KiB/s), so a peer that trickles a frame cannot hold the connection
    /// forever (as Kestrel's MinRequestBodyDataRate).
    /// </summary>
    public int MinBodyDataRate { get; init; } = 64 * 1024;

    /// <summary>
    /// Whether code awaiting a request's answer resumes on the connection's receive loop instead of the thread pool
    /// (default true): a thread wake-up less per request. Code that blocks there (or waits synchronously for another
    /// answer) does not deadlock the connection: after 50 ms another thread takes the reading over.
    /// </summary>
    public bool InlineCompletions { get; init; } = true;

    /// <summary>How connections read from the socket (default <see cref="PipeReceiveMode.Auto"/>).</summary>
    public PipeReceiveMode ReceiveMode { get; init; } = PipeReceiveMode.Auto;

    /// <summary>Whether only processes of the current user may connect (default true; checked through SO_PEERCRED on Linux).</summary>
    public bool CurrentUserOnly { get; init; } = true;

    /// <summary>Where the channel logs connections, handler failures, peers gone, dropped messages and reconnects (null: nowhere).</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Checks every setting; the message names the option and its bad value.</summary>
    /// <exception cref="ArgumentException">A setting is out of range or contradicts another.</exception>
    public virtual void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameSize, 1024, nameof(MaxFrameSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(SendBufferLimit, 1024, nameof(SendBufferLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveBufferLimit, 1024, nameof(ReceiveBufferLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentRequestsPerConnection, 1, nameof(MaxConcurrentRequestsPerConnection));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinBodyDataRate, 1, nameof(MinBodyDataRate));
        Positive(HeartbeatInterval, nameof(HeartbeatInterval));
        Positive(PeerTimeout, nameof(PeerTimeout));
        Positive(HandshakeTimeout, nameof(HandshakeTimeout));
        if (DefaultTimeout != Timeout.InfiniteTimeSpan)
        {
            Positive(DefaultTimeout, nameof(DefaultTimeout));
        }

        Defined(UnhandledMessages, nameof(UnhandledMessages));
        Defined(ReceiveMode, nameof(ReceiveMode));
        if (PeerTimeout <= HeartbeatInterval)
        {
            throw new ArgumentException(
                $"PeerTimeout ({PeerTimeout}) must be longer than HeartbeatInterval ({HeartbeatInterval}), or an idle peer would be declared gone between two pings.",
                nameof(PeerTimeout));
        }
    }

    private protected static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most int.MaxValue milliseconds; it is {value}.");
        }
    }

    private static void Defined<TEnum>(TEnum value, string name)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} is {value}, which is not a {typeof(TEnum).Name}.");
        }
    }
}
