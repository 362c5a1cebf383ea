using Microsoft.Extensions.Logging;

namespace IpcKit.Synchronization;

/// <summary>Settings of a <see cref="NamedLock"/>.</summary>
public sealed class NamedLockOptions
{
    /// <summary>The most leases a lock can have.</summary>
    public const int MaxLeases = LockFileLayout.MaxLeases;

    /// <summary>How many holders the lock admits at once (default 1: mutual exclusion). Every user of a name must use the same number.</summary>
    public int Leases { get; init; } = 1;

    /// <summary>Where the lock logs (abandoned leases taken over, lock files refused); null logs nothing.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    internal void Validate()
    {
        if (Leases < 1 || Leases > MaxLeases)
        {
            throw new ArgumentOutOfRangeException(nameof(Leases), Leases, $"NamedLockOptions.Leases must be from 1 to {MaxLeases}, not {Leases}.");
        }
    }
}
