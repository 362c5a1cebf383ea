namespace IpcKit.Nats;

/// <summary>
/// Serves a local pipe server on a subject (<c>ipckit bridge serve</c>): every NATS request on
/// <see cref="BridgeRoute.Subject"/> becomes a pipe request to <see cref="Pipe"/> and its answer (or error) the reply;
/// a NATS message without a reply subject becomes a one-way pipe message.
/// </summary>
public sealed class PipeServeRoute : BridgeRoute
{
    /// <summary>The local pipe server to call (the bridge connects as a client and reconnects when it restarts).</summary>
    public required string Pipe { get; init; }

    /// <summary>A queue group, so several bridges (on several machines) share the requests.</summary>
    public string? QueueGroup { get; init; }

    /// <summary>How long a request waits for the pipe server's answer, unless the requester asked for less.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests in flight to the pipe server at once; more wait in the NATS client's buffer.</summary>
    public int MaxConcurrentRequests { get; init; } = 256;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        PipeConnectRoute.ValidatePipe(Pipe, nameof(Pipe));
        if (QueueGroup is not null)
        {
            ValidateJetStreamName(QueueGroup, nameof(QueueGroup));
        }

        ValidatePositive(RequestTimeout, nameof(RequestTimeout), allowInfinite: false);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentRequests, 1, nameof(MaxConcurrentRequests));
    }

    /// <inheritdoc />
    public override string ToString() => $"subject '{Subject}' → pipe '{Pipe}'";
}
