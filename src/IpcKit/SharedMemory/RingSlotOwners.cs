namespace IpcKit.SharedMemory;

/// <summary>
/// Who holds the slots of a many-to-one or broadcast ring, as far as a protocol cursor needs to know: whether the
/// process that holds (or last held) a slot is gone. In a file this is the slot's lock (the OS drops it when the
/// process dies); tests of the protocol in process memory answer it themselves.
/// </summary>
internal interface IRingSlotOwners
{
    /// <summary>Whether no live process holds slot <paramref name="slot"/> (it died, or detached). A system call: ask rarely.</summary>
    bool IsGone(int slot);
}

/// <summary>What a cursor tells its endpoint about the ring as it goes (counted and logged there).</summary>
internal interface IRingCursorEvents
{
    /// <summary>A many-to-one reader skipped the claim of a producer that died before committing it.</summary>
    void HoleSkipped(long position, long bytes, int slot);

    /// <summary>A broadcast subscriber was overtaken by the writer and resumed further on.</summary>
    void Lapped(long position, long resumedAt, long lost);

    /// <summary>A broadcast writer dropped a subscriber.</summary>
    void SubscriberDropped(int slot, int processId, string reason);
}
