namespace IpcKit.SharedMemory;

/// <summary>
/// A ring's descriptor (the header's first line), validated once and then kept in private fields: a peer that rewrites
/// the capacity or the maximum message size after an endpoint attached changes nothing for it (it never re-reads them).
/// </summary>
internal readonly record struct RingDescriptor(RingKind Kind, int HeaderSize, long Capacity, int MaxMessageSize, int Flags, int Slots)
{
    /// <summary>Whether a broadcast ring's writer never waits for subscribers.</summary>
    internal bool Lossy => (Flags & RingLayout.LossyFlag) != 0;

    /// <summary>The file (or memory) length of a ring with this descriptor.</summary>
    internal long TotalLength => HeaderSize + Capacity;

    /// <summary>The descriptor for new ring options, checked (the messages name the option).</summary>
    internal static RingDescriptor For(RingOptions options)
    {
        options.Validate();
        int slots = options.Kind switch
        {
            RingKind.ManyToOne => options.MaxProducers,
            RingKind.Broadcast => options.MaxSubscribers,
            _ => 0,
        };
        int maxMessage = options.MaxMessageSize ?? RingLayout.MaxMessageSizeFor(options.Capacity);
        int flags = options.Kind == RingKind.Broadcast && options.Lossy ? RingLayout.LossyFlag : 0;
        return new RingDescriptor(options.Kind, RingLayout.HeaderSizeFor(options.Kind, slots), options.Capacity, maxMessage, flags, slots);
    }

    /// <summary>
    /// Prepares a new ring's zeroed memory for its kind: a many-to-one data area holds lap 0's free words; a broadcast
    /// ring starts with its first checkpoint (position 0, sequence 0).
    /// </summary>
    internal void InitializeData<TMemory>(TMemory memory)
        where TMemory : struct, IRingMemory
    {
        if (Kind == RingKind.ManyToOne)
        {
            // Positions -capacity to 0, whose next lap is lap 0.
            RingFree.Fill(memory, HeaderSize, Capacity, System.Numerics.BitOperations.Log2((ulong)Capacity), -Capacity, 0);
        }
        else if (Kind == RingKind.Broadcast)
        {
            RingCheckpoints.Initialize(memory);
        }
    }

    /// <summary>Writes the descriptor into a zeroed header: every field, then the version and last the magic (release).</summary>
    internal unsafe void Write<TMemory>(TMemory memory, int creatorPid, long createdAt)
        where TMemory : struct, IRingMemory
    {
        memory.WriteInt32(RingLayout.HeaderSizeOffset, HeaderSize);
        memory.WriteInt64(RingLayout.CapacityOffset, Capacity);
        memory.WriteInt32(RingLayout.MaxMessageSizeOffset, MaxMessageSize);
        memory.WriteInt32(RingLayout.FlagsOffset, Flags);
        memory.WriteInt64(RingLayout.CreatedAtOffset, createdAt);
        memory.WriteInt32(RingLayout.CreatorPidOffset, creatorPid);
        memory.WriteInt32(RingLayout.KindOffset, (int)Kind);
        memory.WriteInt32(RingLayout.SlotsOffset, Slots);

        // Version, then magic, each with release semantics: a reader that sees the magic sees the whole header.
        memory.WriteInt32Release(RingLayout.VersionOffset, Kind == RingKind.OneToOne ? RingLayout.Version : RingLayout.SlottedVersion);
        memory.WriteInt64Release(RingLayout.MagicOffset, unchecked((long)RingLayout.Magic));
    }

    /// <summary>
    /// Reads and checks the descriptor of a ring of <paramref name="length"/> bytes (the magic has been seen).
    /// Every field that decides where memory is touched is checked against the length.
    /// </summary>
    /// <param name="memory">The ring's memory.</param>
    /// <param name="length">The length of the file or memory (at least one header).</param>
    /// <param name="describe">"Ring 'jobs' (/dev/shm/ipckit.ring.jobs)", for the messages.</param>
    internal static RingDescriptor Read<TMemory>(TMemory memory, long length, string describe)
        where TMemory : struct, IRingMemory
    {
        int version = memory.ReadInt32Acquire(RingLayout.VersionOffset);
        if (version != RingLayout.Version && version != RingLayout.SlottedVersion)
        {
            throw new IpcCorruptionException($"{describe} has layout version {version}; this IpcKit reads versions {RingLayout.Version} and {RingLayout.SlottedVersion}.");
        }

        int kindValue = memory.ReadInt32(RingLayout.KindOffset);
        int slots = memory.ReadInt32(RingLayout.SlotsOffset);
        int flags = memory.ReadInt32(RingLayout.FlagsOffset);
        var kind = (RingKind)kindValue;
        bool kindFits = version == RingLayout.Version
            ? kind == RingKind.OneToOne
            : kind is RingKind.ManyToOne or RingKind.Broadcast;
        if (!kindFits)
        {
            throw new IpcCorruptionException($"{describe} has kind {kindValue} in layout version {version}; version 1 is one-to-one (kind 0), version 2 many-to-one (1) or broadcast (2).");
        }

        if (kind == RingKind.OneToOne ? slots != 0 : slots is < 1 or > RingLayout.MaxSlots)
        {
            throw new IpcCorruptionException($"{describe} has {slots} slots; a {Describe(kind)} ring has {(kind == RingKind.OneToOne ? "none" : $"1 to {RingLayout.MaxSlots}")}.");
        }

        int allowedFlags = kind == RingKind.Broadcast ? RingLayout.LossyFlag : 0;
        if ((flags & ~allowedFlags) != 0)
        {
            throw new IpcCorruptionException($"{describe} has flags 0x{flags:x}, which a {Describe(kind)} ring does not use.");
        }

        int headerSize = memory.ReadInt32(RingLayout.HeaderSizeOffset);
        int expectedHeader = RingLayout.HeaderSizeFor(kind, slots);
        if (headerSize != expectedHeader)
        {
            throw new IpcCorruptionException($"{describe} has a header size of {headerSize}; a {Describe(kind)} ring of layout version {version} with {slots} slots has {expectedHeader}.");
        }

        long capacity = memory.ReadInt64(RingLayout.CapacityOffset);
        if (!RingLayout.IsValidCapacity(capacity) || length != headerSize + capacity)
        {
            throw new IpcCorruptionException(
                $"{describe} has an invalid capacity {capacity} for a file of {length} bytes (a power of two from 4 KiB to 1 GiB, plus a {headerSize}-byte header).");
        }

        int maxMessage = memory.ReadInt32(RingLayout.MaxMessageSizeOffset);
        if (maxMessage < 1 || maxMessage > RingLayout.MaxMessageSizeFor(capacity))
        {
            throw new IpcCorruptionException($"{describe} has an invalid maximum message size {maxMessage} for a capacity of {capacity}.");
        }

        return new RingDescriptor(kind, headerSize, capacity, maxMessage, flags, slots);
    }

    /// <summary>"one-to-one", "many-to-one" or "broadcast".</summary>
    internal static string Describe(RingKind kind) => kind switch
    {
        RingKind.ManyToOne => "many-to-one",
        RingKind.Broadcast => "broadcast",
        _ => "one-to-one",
    };
}
