using IpcKit.SharedMemory;

namespace IpcKit.Nats;

/// <summary>
/// Subject → ring: the bridge attaches as the ring's writer and writes every message received on
/// <see cref="BridgeRoute.Subject"/>. When the ring is full it stops taking messages (back-pressure) instead of dropping
/// them; in <see cref="BridgeMode.Core"/> mode the NATS client's pending buffer then fills and what overflows it is
/// counted and logged (core NATS is at most once). In <see cref="BridgeMode.JetStream"/> mode a durable consumer
/// delivers the stream, each message is acknowledged after its ring commit, and a delivery record beside the ring
/// (the last stream sequence written, and the one being written with its ring position) makes a restarted bridge skip
/// what is already in the ring: exactly once into the ring.
/// </summary>
public sealed class NatsToRingRoute : BridgeRoute
{
    /// <summary>The ring to write. The bridge must be its only writer.</summary>
    public required string Ring { get; init; }

    /// <summary>Core NATS (at most once) or JetStream (exactly once into the ring).</summary>
    public BridgeMode Mode { get; init; } = BridgeMode.Core;

    /// <summary>JetStream mode: the stream to consume; created (file storage, the subject only) if missing.</summary>
    public string? Stream { get; init; }

    /// <summary>JetStream mode: the durable consumer's name (default <c>ipckit-RING</c>, dots replaced by '_').</summary>
    public string? Consumer { get; init; }

    /// <summary>Core mode: a queue group, so several bridges share the subject's messages.</summary>
    public string? QueueGroup { get; init; }

    /// <summary>Create the ring with these options if it does not exist; null: wait for it to exist.</summary>
    public RingOptions? CreateRing { get; init; }

    /// <summary>How long one message may wait for room in a full ring before the route fails; infinite by default (never drops).</summary>
    public TimeSpan WriteTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>JetStream mode: messages delivered ahead of the ring (the consumer's MaxAckPending and the client's pull batch).</summary>
    public int MaxPending { get; init; } = 1024;

    internal string ConsumerName => Consumer ?? "ipckit-" + Ring.Replace('.', '_');

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        ValidateRing(Ring, nameof(Ring));
        if (Mode == BridgeMode.JetStream)
        {
            ValidateJetStreamName(Stream, nameof(Stream));
            ValidateJetStreamName(ConsumerName, nameof(Consumer));
            if (QueueGroup is not null)
            {
                throw new ArgumentException("QueueGroup is for core mode; in JetStream mode the durable consumer is shared instead.", nameof(QueueGroup));
            }
        }
        else if (QueueGroup is not null)
        {
            ValidateJetStreamName(QueueGroup, nameof(QueueGroup));
        }

        ValidatePositive(WriteTimeout, nameof(WriteTimeout), allowInfinite: true);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPending, 1, nameof(MaxPending));
    }

    /// <inheritdoc />
    public override string ToString() => $"{(Mode == BridgeMode.JetStream ? $"stream '{Stream}' " : "")}subject '{Subject}' → ring '{Ring}'";
}
