using IpcKit.Synchronization;

namespace IpcKit.SharedMemory;

/// <summary>
/// Creates, inspects, peeks into and deletes shared-memory rings. A ring is a queue of variable-length messages in a
/// memory-mapped file: one-to-one, many-to-one or broadcast (<see cref="RingKind"/>); attach
/// <see cref="RingWriter"/>s and <see cref="RingReader"/>s in other processes. The format is specified in
/// docs/ring-format.md; names and paths come from <see cref="IpcName.GetRingPath"/>.
/// </summary>
public static class RingBuffer
{
    /// <summary>Creates a ring; fails with <see cref="IpcAlreadyExistsException"/> if one with this name exists.</summary>
    /// <exception cref="ArgumentException">The name or an option is invalid (see <see cref="RingOptions.Validate"/>).</exception>
    /// <exception cref="IpcException">The file system has too little room for the ring (the message says how much it needs and has).</exception>
    public static void Create(string name, RingOptions? options = null)
    {
        IpcName.ValidateRing(name);
        RingMapping.Create(name, options ?? new RingOptions());
    }

    /// <summary>Whether a ring file with this name exists.</summary>
    public static bool Exists(string name) => File.Exists(IpcName.GetRingPath(name));

    /// <summary>
    /// Removes the ring's file and its semaphores; processes attached keep their mapping until they detach.
    /// Returns false if there was no ring file.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">What is at the name is not this user's private ring file; nothing is removed.</exception>
    public static bool Delete(string name)
    {
        string path = IpcName.GetRingPath(name);
        bool existed = RingFile.DeleteChecked(name, path);
        if (!OperatingSystem.IsLinux())
        {
            // Role lock files exist only where there are no OFD locks; on Linux their names may not even be valid
            // (a 241-character ring name plus ".writer.lock" is longer than a file name may be).
            File.Delete(RingIdentity.LockPath(path, RingLayout.WriterIdentityOffset));
            File.Delete(RingIdentity.LockPath(path, RingLayout.ReaderIdentityOffset));
            for (int slot = 0; slot < RingLayout.MaxSlots; slot++)
            {
                File.Delete(RingIdentity.LockPath(path, RingLayout.SlotOffset(slot)));
            }
        }

        NamedSemaphore.DeleteInternal(RingMapping.DataSemaphoreName(name));
        NamedSemaphore.DeleteInternal(RingMapping.SpaceSemaphoreName(name));
        for (int slot = 0; slot < RingLayout.MaxSlots; slot++)
        {
            NamedSemaphore.DeleteInternal(RingMapping.SlotSemaphoreName(name, slot));
        }

        return existed;
    }

    /// <summary>A snapshot of the ring's layout, positions and attached processes.</summary>
    public static RingInfo Inspect(string name)
    {
        IpcName.ValidateRing(name);
        using RingMapping mapping = RingMapping.Open(name);
        RingDescriptor descriptor = mapping.Descriptor;
        var slots = new List<RingSlotInfo>();
        for (int slot = 0; slot < descriptor.Slots; slot++)
        {
            int line = RingLayout.SlotOffset(slot);
            RingPeerInfo peer = RingIdentity.Read(mapping, line);
            if (peer.State == RingPeerState.None)
            {
                continue;
            }

            slots.Add(new RingSlotInfo(
                slot,
                peer,
                RingIdentity.IsHeld(mapping, line),
                Volatile.Read(ref mapping.Int64(line + RingLayout.SlotPositionField)),
                Volatile.Read(ref mapping.Int64(line + RingLayout.SlotMessagesField)),
                Volatile.Read(ref mapping.Int64(line + RingLayout.SlotLostField))));
        }

        long write = Volatile.Read(ref mapping.Int64(RingLayout.WritePositionOffset));
        long read = descriptor.Kind == RingKind.Broadcast
            ? slots.Where(s => s.Peer.State == RingPeerState.Attached && s.Alive).Select(s => s.Position).DefaultIfEmpty(write).Min()
            : Volatile.Read(ref mapping.Int64(RingLayout.ReadPositionOffset));
        return new RingInfo
        {
            Name = name,
            Path = mapping.Path,
            Kind = descriptor.Kind,
            Lossy = descriptor.Lossy,
            Capacity = descriptor.Capacity,
            MaxMessageSize = descriptor.MaxMessageSize,
            MaxSlots = descriptor.Slots,
            WritePosition = write,
            ReadPosition = read,
            Writer = RingIdentity.Read(mapping, RingLayout.WriterIdentityOffset),
            WriterAlive = RingIdentity.IsHeld(mapping, RingLayout.WriterIdentityOffset),
            Reader = RingIdentity.Read(mapping, RingLayout.ReaderIdentityOffset),
            ReaderAlive = RingIdentity.IsHeld(mapping, RingLayout.ReaderIdentityOffset),
            Slots = slots,
            HolesSkipped = Volatile.Read(ref mapping.Int64(RingLayout.HolesSkippedOffset)),
            MessagesWritten = descriptor.Kind == RingKind.Broadcast ? Volatile.Read(ref mapping.Int64(RingLayout.MessagesWrittenOffset)) : null,
            CreatorProcessId = mapping.Int32(RingLayout.CreatorPidOffset),
            CreatedAtUnixMilliseconds = mapping.Int64(RingLayout.CreatedAtOffset),
        };
    }

    /// <summary>
    /// Copies up to <paramref name="maxMessages"/> messages that are committed and not yet consumed, without consuming
    /// them and without taking any role (a broadcast ring: from the slowest live subscriber, or the oldest message
    /// still there). A diagnostic: it stops where the reader overtakes it or a message is still being written.
    /// </summary>
    public static IReadOnlyList<RingPeekedMessage> Peek(string name, int maxMessages = 100)
    {
        IpcName.ValidateRing(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        using RingMapping mapping = RingMapping.Open(name);
        return RingPeek.Read(mapping, maxMessages);
    }

    /// <summary>Whether the ring exists and no live process is attached to it (its users exited or died).</summary>
    public static bool IsAbandoned(string name)
    {
        IpcName.ValidateRing(name);
        try
        {
            using RingMapping mapping = RingMapping.Open(name);
            return !RingIdentity.IsHeld(mapping, RingLayout.WriterIdentityOffset)
                && !RingIdentity.IsHeld(mapping, RingLayout.ReaderIdentityOffset)
                && !RingIdentity.SlotLines(mapping.Descriptor.Slots).Any(line => RingIdentity.IsHeld(mapping, line));
        }
        catch (IpcNotFoundException)
        {
            return false;
        }
        catch (IpcCorruptionException)
        {
            // Never finished or not a ring at all: nobody can be using it.
            return true;
        }
    }
}
