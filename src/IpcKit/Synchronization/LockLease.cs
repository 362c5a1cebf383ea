namespace IpcKit.Synchronization;

/// <summary>
/// One held lease of a <see cref="NamedLock"/> (for a lock with one lease: the lock itself). Dispose it to release;
/// if the process dies first, the kernel releases it and the next owner sees <see cref="Abandoned"/>.
/// </summary>
public sealed class LockLease : IDisposable
{
    private int _released;

    internal LockLease(NamedLock owner, int index, int abandonedBy, bool synchronous)
    {
        Lock = owner;
        Index = index;
        AbandonedBy = abandonedBy == 0 ? null : abandonedBy;
        AcquiredOnThread = synchronous ? Environment.CurrentManagedThreadId : 0;
    }

    /// <summary>The lock this lease belongs to.</summary>
    public NamedLock Lock { get; }

    /// <summary>Which of the lock's leases this is, from 0 (always 0 for a lock with one lease).</summary>
    public int Index { get; }

    /// <summary>
    /// Whether the previous holder of this lease died while holding it (as <see cref="AbandonedMutexException"/> tells
    /// for a Windows mutex): whatever it guarded may be half-updated, so check or repair it before relying on it.
    /// Each abandonment is reported to exactly one next owner.
    /// </summary>
    public bool Abandoned => AbandonedBy is not null;

    /// <summary>The process id of the holder that died holding this lease, when <see cref="Abandoned"/>.</summary>
    public int? AbandonedBy { get; }

    /// <summary>Whether this lease is still held (not disposed, and its lock not disposed).</summary>
    public bool IsHeld => Volatile.Read(ref _released) == 0;

    /// <summary>The managed thread that took it with a synchronous acquire (0 for an asynchronous one): what the recursion check looks at.</summary>
    internal int AcquiredOnThread { get; }

    /// <summary>Releases the lease, waking a waiter; a second call does nothing.</summary>
    public void Dispose()
    {
        if (MarkReleased())
        {
            Lock.Release(this);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"lease {Index} of {Lock}{(Abandoned ? $" (abandoned by process {AbandonedBy})" : "")}";

    /// <summary>Marks the lease released; true for the one caller that must give it back.</summary>
    internal bool MarkReleased() => Interlocked.Exchange(ref _released, 1) == 0;
}
