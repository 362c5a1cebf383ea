namespace IpcKit.Synchronization;

/// <summary>A snapshot of a named lock, as <see cref="NamedLock.GetInfo"/> reads it from the lock file and the kernel's locks.</summary>
/// <param name="Name">The lock's name.</param>
/// <param name="Path">Its lock file.</param>
/// <param name="Leases">How many holders it admits at once.</param>
/// <param name="Waiters">Waiters asleep on it (IpcKit processes; a waiter killed while asleep stays counted until the file is made anew).</param>
/// <param name="LeaseStates">Each lease: free, held (by which process, since when) or abandoned by a holder that died.</param>
public sealed record NamedLockInfo(string Name, string Path, int Leases, int Waiters, IReadOnlyList<LockLeaseInfo> LeaseStates)
{
    /// <summary>The leases held right now.</summary>
    public IEnumerable<LockLeaseInfo> Holders => LeaseStates.Where(lease => lease.State == LockLeaseState.Held);
}

/// <summary>One lease of a named lock.</summary>
/// <param name="Index">The lease, from 0.</param>
/// <param name="State">Free, held or abandoned.</param>
/// <param name="ProcessId">The holder (or the dead holder); null when free, or held by a program that does not say (an open-file-description lock taken outside IpcKit).</param>
/// <param name="Since">When the holder took it, where known.</param>
public sealed record LockLeaseInfo(int Index, LockLeaseState State, int? ProcessId, DateTimeOffset? Since);

/// <summary>The state of one lease.</summary>
public enum LockLeaseState
{
    /// <summary>Nobody holds it.</summary>
    Free,

    /// <summary>A live process holds it.</summary>
    Held,

    /// <summary>Its holder died holding it; the kernel released it, and its next owner will see <see cref="LockLease.Abandoned"/>.</summary>
    Abandoned,
}
