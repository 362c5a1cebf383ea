namespace IpcKit.Nats;

/// <summary>
/// Ring → subject: the bridge attaches as the ring's reader and publishes every committed message on <see cref="BridgeRoute.Subject"/>.
/// In <see cref="BridgeMode.JetStream"/> mode a ring read is committed only once the stream acknowledged every message
/// of the batch, each published with its ring position as <c>Nats-Msg-Id</c>, so a bridge restarted after a crash
/// publishes the unacknowledged tail again and the stream drops the copies.
/// </summary>
public sealed class RingToNatsRoute : BridgeRoute
{
    /// <summary>The ring to read (it must exist; the bridge waits up to <see cref="IpcNatsBridgeOptions.AttachTimeout"/> for it).</summary>
    public required string Ring { get; init; }

    /// <summary>Core NATS (at most once) or JetStream (exactly once into the remote ring).</summary>
    public BridgeMode Mode { get; init; } = BridgeMode.Core;

    /// <summary>JetStream mode: the stream that stores the subject; created (file storage, the subject only) if missing.</summary>
    public string? Stream { get; init; }

    /// <summary>The most messages read and published as one batch (JetStream: acknowledged together before the read is committed).</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>JetStream mode: how long publishing a batch may keep failing (server down, no stream) before the route fails.</summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        ValidateRing(Ring, nameof(Ring));
        if (Mode == BridgeMode.JetStream)
        {
            ValidateJetStreamName(Stream, nameof(Stream));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatch, 1, nameof(MaxBatch));
        ValidatePositive(PublishTimeout, nameof(PublishTimeout), allowInfinite: true);
    }

    /// <inheritdoc />
    public override string ToString() => $"ring '{Ring}' → {(Mode == BridgeMode.JetStream ? $"stream '{Stream}' " : "")}subject '{Subject}'";
}
