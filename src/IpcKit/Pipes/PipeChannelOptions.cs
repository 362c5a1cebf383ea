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

    /// <summary>The timeout of a request when the caller passes none (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bytes queued for sending above which senders wait for the peer to read (default 1 MiB).</summary>
    public int SendBufferLimit { get; init; } = 1024 * 1024;

    /// <summary>Received messages queued for <c>ReceiveAllAsync</c> before the connection stops reading from the peer (default 4096).</summary>
    public int ReceiveQueueCapacity { get; init; } = 4096;

    /// <summary>
    /// Whether code awaiting a request's answer resumes on the connection's receive loop instead of the thread pool
    /// (default false). It saves a thread wake-up per request, a good part of a round trip, but that code then must not
    /// block (for example wait synchronously for another answer): the connection reads nothing until it awaits or returns.
    /// </summary>
    public bool InlineCompletions { get; init; }

    /// <summary>
    /// Whether each connection reads on a thread of its own, blocking in read(2), instead of with the thread pool
    /// (default false). It saves a thread wake-up per message received, about a third of a round trip on a small
    /// machine, at the cost of one thread per connection: for clients and for servers with few clients.
    /// </summary>
    public bool DedicatedReceiveThread { get; init; }

    /// <summary>Whether only processes of the current user may connect (default true; checked through SO_PEERCRED on Linux).</summary>
    public bool CurrentUserOnly { get; init; } = true;

    internal virtual void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameSize, 1024, nameof(MaxFrameSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(SendBufferLimit, 1024, nameof(SendBufferLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveQueueCapacity, 1, nameof(ReceiveQueueCapacity));
        Positive(HeartbeatInterval, nameof(HeartbeatInterval));
        Positive(PeerTimeout, nameof(PeerTimeout));
        Positive(HandshakeTimeout, nameof(HandshakeTimeout));
        if (RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            Positive(RequestTimeout, nameof(RequestTimeout));
        }

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
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most int.MaxValue milliseconds.");
        }
    }
}
