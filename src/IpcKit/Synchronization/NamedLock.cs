using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IpcKit.Synchronization;

/// <summary>
/// A lock shared by processes through a name that survives a crash: when a holder dies, however it dies, the kernel
/// releases what it held at once, and the next owner is told (<see cref="LockLease.Abandoned"/>). With
/// <see cref="NamedLockOptions.Leases"/> N it admits N holders at once (a crash-safe counting semaphore).
/// </summary>
/// <remarks>
/// <para>
/// Not re-entrant: every acquire takes a lease of its own, whichever thread, instance or process holds the others, so
/// two acquires in one process exclude each other exactly as two processes do. A synchronous acquire that would wait
/// for leases its own thread holds (all of them) throws <see cref="LockRecursionException"/> instead of waiting forever.
/// </para>
/// <para>
/// On Linux a lease is an open-file-description lock on one byte of the lock file (<see cref="IpcName.GetLockPath"/>),
/// and waiters sleep on a futex in the file that every release bumps; see docs/locks.md for the format, which C programs
/// and scripts can use too. macOS and Windows are compiled but not tested.
/// </para>
/// </remarks>
public sealed class NamedLock : IDisposable
{
    [ThreadStatic]
    private static List<LockLease>? s_heldBySyncAcquire;

    private readonly LockFile _file;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly LockLease?[] _held;
    private volatile bool _disposed;

    /// <summary>Opens the lock named <paramref name="name"/>, creating its lock file if this is its first user.</summary>
    /// <param name="name">The name (see <see cref="IpcName.MaxLockNameLength"/> for the rule).</param>
    /// <param name="options">The lease count and the logger; null for one lease and no logging.</param>
    /// <exception cref="UnauthorizedAccessException">The lock file (or its folder) belongs to another user, is open to others, or is not a regular file.</exception>
    /// <exception cref="ArgumentException">The lock exists with another number of leases.</exception>
    public NamedLock(string name, NamedLockOptions? options = null)
    {
        IpcName.ValidateLock(name);
        options ??= new NamedLockOptions();
        options.Validate();
        _logger = options.LoggerFactory?.CreateLogger("IpcKit.Synchronization.NamedLock") ?? NullLogger.Instance;
        _file = LockFile.Open(name, options.Leases, _logger);
        _held = new LockLease?[options.Leases];
    }

    /// <summary>The lock's name.</summary>
    public string Name => _file.Name;

    /// <summary>How many holders it admits at once.</summary>
    public int Leases => _file.Leases;

    /// <summary>The lock file (see docs/locks.md for its format).</summary>
    public string Path => _file.Path;

    /// <summary>Takes a lease, waiting at most <paramref name="timeout"/> (null or <see cref="Timeout.InfiniteTimeSpan"/>: no limit).</summary>
    /// <exception cref="TimeoutException">No lease became free in time.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled first.</exception>
    /// <exception cref="LockRecursionException">This thread itself holds every lease, so the wait could never end.</exception>
    public LockLease Acquire(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int milliseconds = NamedSemaphore.ToMilliseconds(timeout, Timeout.Infinite);
        return AcquireCore(milliseconds, Environment.TickCount64, synchronous: true, cancellationToken) ?? throw TimedOut(milliseconds);
    }

    /// <summary>Takes a lease if one becomes free within <paramref name="timeout"/> (null: only if one is free now); false otherwise.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled first.</exception>
    /// <exception cref="LockRecursionException">A wait was asked for, and this thread itself holds every lease.</exception>
    public bool TryAcquire([NotNullWhen(true)] out LockLease? lease, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        lease = AcquireCore(NamedSemaphore.ToMilliseconds(timeout, 0), Environment.TickCount64, synchronous: true, cancellationToken);
        return lease is not null;
    }

    /// <summary>The asynchronous <see cref="Acquire"/>; the wait does not occupy a thread-pool thread.</summary>
    /// <exception cref="TimeoutException">No lease became free in time.</exception>
    public async ValueTask<LockLease> AcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int milliseconds = NamedSemaphore.ToMilliseconds(timeout, Timeout.Infinite);
        return await AcquireCoreAsync(milliseconds, cancellationToken).ConfigureAwait(false) ?? throw TimedOut(milliseconds);
    }

    /// <summary>The asynchronous <see cref="TryAcquire"/>: the lease, or null when none became free in time (an async method has no out parameter).</summary>
    public ValueTask<LockLease?> TryAcquireAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        AcquireCoreAsync(NamedSemaphore.ToMilliseconds(timeout, 0), cancellationToken);

    /// <summary>Reads the state of lock <paramref name="name"/> without taking part in it; null when nobody uses it (no lock file). Linux only.</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static NamedLockInfo? GetInfo(string name)
    {
        IpcName.ValidateLock(name);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("NamedLock.GetInfo reads open-file-description locks, which only Linux has.");
        }

        using LockFile? file = LockFile.OpenExisting(name);
        if (file is null)
        {
            return null;
        }

        var leases = new LockLeaseInfo[file.Leases];
        for (int i = 0; i < leases.Length; i++)
        {
            leases[i] = file.ReadLease(i);
        }

        return new NamedLockInfo(name, file.Path, file.Leases, Math.Max(0, file.Sleepers), leases);
    }

    /// <summary>Releases the leases taken through this instance and closes the lock; its last user in any process removes the lock file.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            for (int i = 0; i < _held.Length; i++)
            {
                if (_held[i] is LockLease lease && lease.MarkReleased())
                {
                    _file.Give(i);
                }

                _held[i] = null;
            }
        }

        // Waiters elsewhere may take what was given back; waiters on this instance wake and see it disposed.
        _file.WakeWaiters();
        _file.Nudge();
        _file.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"named lock '{_file.Name}' ({_file.Path})";

    internal void Release(LockLease lease)
    {
        lock (_gate)
        {
            if (_disposed || _held[lease.Index] != lease)
            {
                return;
            }

            _held[lease.Index] = null;
            _file.Give(lease.Index);
        }

        _file.WakeWaiters();
    }

    /// <summary>The wait (see LockFile for the protocol); null when <paramref name="milliseconds"/> passed.</summary>
    private LockLease? AcquireCore(int milliseconds, long start, bool synchronous, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (synchronous && milliseconds != 0)
        {
            ThrowIfWaitingForItself();
        }

        LockLease? lease = TryTakeAny(synchronous);
        if (lease is not null || milliseconds == 0)
        {
            return lease;
        }

        // A cancelled token bumps the futex word, so the sleep below ends at once rather than after its slice.
        CancellationTokenRegistration registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((LockFile)state!).Nudge(), _file)
            : default;
        try
        {
            while (true)
            {
                int observed = _file.WakeSequence;
                lease = TryTakeAny(synchronous);
                if (lease is not null)
                {
                    return lease;
                }

                cancellationToken.ThrowIfCancellationRequested();
                int slice = LockFile.DeadHolderCheckMilliseconds;
                if (milliseconds != Timeout.Infinite)
                {
                    long left = milliseconds - (Environment.TickCount64 - start);
                    if (left <= 0)
                    {
                        return null;
                    }

                    slice = (int)Math.Min(left, slice);
                }

                _file.Sleep(observed, slice);
            }
        }
        finally
        {
            registration.Dispose();
        }
    }

    private ValueTask<LockLease?> AcquireCoreAsync(int milliseconds, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<LockLease?>(cancellationToken);
        }

        LockLease? lease = TryTakeAny(synchronous: false);
        if (lease is not null || milliseconds == 0)
        {
            return new ValueTask<LockLease?>(lease);
        }

        return new ValueTask<LockLease?>(AsyncAcquire.Start(this, milliseconds, cancellationToken));
    }

    private LockLease? TryTakeAny(bool synchronous)
    {
        LockLease? lease = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int i = 0; i < _held.Length; i++)
            {
                // A lease this instance holds would be "taken" again through the same open file: skip it.
                if (_held[i] is null && _file.TryTake(i, out int previousHolder))
                {
                    lease = new LockLease(this, i, previousHolder, synchronous);
                    _held[i] = lease;
                    break;
                }
            }
        }

        if (lease is null)
        {
            return null;
        }

        if (lease.AbandonedBy is int dead)
        {
            LockLog.AbandonedLeaseTaken(_logger, Name, lease.Index, dead);
        }

        if (synchronous)
        {
            (s_heldBySyncAcquire ??= []).Add(lease);
        }

        return lease;
    }

    /// <summary>A synchronous wait by a thread that itself holds every lease of this name could never end.</summary>
    private void ThrowIfWaitingForItself()
    {
        List<LockLease>? held = s_heldBySyncAcquire;
        if (held is null)
        {
            return;
        }

        held.RemoveAll(lease => !lease.IsHeld);
        int mine = held.Count(lease => lease.AcquiredOnThread == Environment.CurrentManagedThreadId && lease.Lock.Name == Name);
        if (mine >= Leases)
        {
            throw new LockRecursionException(
                $"This thread already holds {(Leases == 1 ? "" : $"all {Leases} leases of ")}{this}; a named lock is not re-entrant, so waiting for it here would never end. Release the lease first, or use TryAcquire without a timeout.");
        }
    }

    private TimeoutException TimedOut(int milliseconds) =>
        new($"No lease of {this} became free within {milliseconds.ToString(CultureInfo.InvariantCulture)} ms.");

    /// <summary>
    /// One asynchronous acquire: the wait runs the synchronous loop on a thread of <see cref="WaitThreads"/> (a futex
    /// cannot be registered with epoll), never on a thread-pool thread. Cancellation completes the task at once and
    /// nudges the futex, so the thread stops too; a lease it took after the task was cancelled goes straight back.
    /// </summary>
    private sealed class AsyncAcquire
    {
        private readonly TaskCompletionSource<LockLease?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly NamedLock _owner;
        private readonly int _milliseconds;
        private readonly long _start = Environment.TickCount64;
        private readonly CancellationToken _cancellationToken;
        private CancellationTokenRegistration _cancellation;

        private AsyncAcquire(NamedLock owner, int milliseconds, CancellationToken cancellationToken)
        {
            _owner = owner;
            _milliseconds = milliseconds;
            _cancellationToken = cancellationToken;
        }

        internal static Task<LockLease?> Start(NamedLock owner, int milliseconds, CancellationToken cancellationToken)
        {
            var acquire = new AsyncAcquire(owner, milliseconds, cancellationToken);
            if (cancellationToken.CanBeCanceled)
            {
                acquire._cancellation = cancellationToken.UnsafeRegister(
                    static (state, token) => ((AsyncAcquire)state!)._completion.TrySetCanceled(token), acquire);
            }

            WaitThreads.Run(static state => ((AsyncAcquire)state).Run(), acquire);
            return acquire._completion.Task;
        }

        private void Run()
        {
            try
            {
                LockLease? lease = _owner.AcquireCore(_milliseconds, _start, synchronous: false, _cancellationToken);
                if (!_completion.TrySetResult(lease))
                {
                    lease?.Dispose();
                }
            }
            catch (OperationCanceledException exception) when (exception.CancellationToken == _cancellationToken)
            {
                _completion.TrySetCanceled(_cancellationToken);
            }
            catch (Exception exception)
            {
                _completion.TrySetException(exception);
            }
            finally
            {
                _cancellation.Dispose();
            }
        }
    }
}
