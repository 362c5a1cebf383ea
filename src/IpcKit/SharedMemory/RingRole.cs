using System.Diagnostics;
using IpcKit.Synchronization;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

/// <summary>The two roles a process can hold on a ring.</summary>
internal enum RingRoleKind
{
    Writer,
    Reader,
}

/// <summary>
/// What a writer and a reader have in common: holding the role (a lock the OS drops when the process dies),
/// publishing who holds it, telling whether the peer is still there, and waiting for the peer with the
/// spin-yield-sleep strategy.
/// </summary>
/// <remarks>
/// Wake-up protocol (no lost wake-up, no system call while both sides are busy): the waiter stores 1 in its
/// sleeping flag, issues a full fence, re-checks its condition, and only then sleeps on its semaphore. The peer
/// publishes its position, issues a full fence, and reads the flag; only if it is 1 and it wins the CAS 1 → 0 does
/// it post. Either the waiter's re-check sees the new position or the peer's read sees the flag: the two fences
/// forbid both reads from missing. Sleeps are sliced so the waiter checks peer liveness, deadlines and disposal.
/// </remarks>
internal sealed class RingRole : IDisposable
{
    private readonly RingMapping _mapping;
    private readonly RingRoleKind _kind;
    private readonly RingEndpointOptions _options;
    private readonly int _identityOffset;
    private readonly int _peerIdentityOffset;
    private readonly int _sleepingOffset;
    private readonly long _peerCheckTicks;
    private readonly long _spinTicks;
    private readonly long _yieldTicks;
    private SafeFileHandle? _lockFile;
    private bool _attached;

    // The peer generation whose departure needs no report: one already reported, or (for a writer) a reader that
    // was gone before this writer attached. A peer that left is reported once; later waits wait for a new one.
    private int _peerSettledGeneration = -1;

    // The liveness probe is a system call (fcntl F_OFD_GETLK); a waiter that sleeps often (ping-pong in blocking
    // mode) probes at most once per check interval, which bounds detection time the same way.
    private long _nextLivenessProbe;

    private RingRole(RingMapping mapping, RingRoleKind kind, RingEndpointOptions options)
    {
        _mapping = mapping;
        _kind = kind;
        _options = options;
        _identityOffset = kind == RingRoleKind.Writer ? RingLayout.WriterIdentityOffset : RingLayout.ReaderIdentityOffset;
        _peerIdentityOffset = kind == RingRoleKind.Writer ? RingLayout.ReaderIdentityOffset : RingLayout.WriterIdentityOffset;
        _sleepingOffset = kind == RingRoleKind.Writer ? RingLayout.WriterSleepingOffset : RingLayout.ReaderSleepingOffset;
        _peerCheckTicks = Math.Max(1, (long)(options.PeerTimeout.TotalSeconds * Stopwatch.Frequency / 4));
        _spinTicks = options.WaitStrategy.Sleeps ? (long)(options.WaitStrategy.SpinTime.TotalSeconds * Stopwatch.Frequency) : long.MaxValue / 4;
        _yieldTicks = (long)(options.WaitStrategy.YieldTime.TotalSeconds * Stopwatch.Frequency);
    }

    internal RingMapping Mapping => _mapping;

    private string RoleName => _kind == RingRoleKind.Writer ? "writer" : "reader";

    private string PeerName => _kind == RingRoleKind.Writer ? "reader" : "writer";

    /// <summary>How many times this role went to sleep on its semaphore.</summary>
    internal long Sleeps;

    /// <summary>How many wake-ups this role posted to its peer.</summary>
    internal long WakeUps;

    /// <summary>The semaphore this role sleeps on.</summary>
    private NamedSemaphore SleepSemaphore => _kind == RingRoleKind.Writer ? _mapping.SpaceReady : _mapping.DataReady;

    /// <summary>
    /// Opens ring <paramref name="name"/>, takes the role, and builds the endpoint; whatever fails on the way releases
    /// what was taken before it.
    /// </summary>
    internal static TEndpoint Attach<TEndpoint>(string name, RingRoleKind kind, RingEndpointOptions? options, Func<RingMapping, RingRole, TEndpoint> create)
    {
        RingMapping mapping = RingMapping.Open(name);
        RingRole? role = null;
        try
        {
            // The endpoint owns the mapping and the role from here on; on failure both are released below.
#pragma warning disable CA2000
            role = Attach(mapping, kind, options ?? new RingEndpointOptions());
#pragma warning restore CA2000
            return create(mapping, role);
        }
        catch
        {
            role?.Dispose();
            mapping.Dispose();
            throw;
        }
    }

    /// <summary>Takes the role on <paramref name="mapping"/>, or fails with <see cref="IpcInUseException"/> if a live process holds it.</summary>
    internal static RingRole Attach(RingMapping mapping, RingRoleKind kind, RingEndpointOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.PeerTimeout, TimeSpan.Zero);
        var role = new RingRole(mapping, kind, options);
        if (!role.TryLock())
        {
            RingPeerInfo holder = ReadIdentity(mapping, role._identityOffset);
            throw new IpcInUseException(
                $"Ring '{mapping.Name}' already has a {role.RoleName}: process {holder.ProcessId} holds the role. A ring has one writer and one reader at a time.");
        }

        ref int generation = ref mapping.Int32(role._identityOffset + RingLayout.GenerationField);
        mapping.Int32(role._identityOffset + RingLayout.PidField) = Environment.ProcessId;
        mapping.Int64(role._identityOffset + RingLayout.StartTimeField) = Interop.ProcessInfo.GetStartTime(Environment.ProcessId);
        mapping.Int64(role._identityOffset + RingLayout.HeartbeatField) = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Volatile.Write(ref generation, generation + 1);
        Volatile.Write(ref mapping.Int32(role._identityOffset + RingLayout.StateField), (int)RingPeerState.Attached);
        Volatile.Write(ref mapping.Int32(role._sleepingOffset), 0);
        role._attached = true;

        // A writer does not report a reader that left before it came: it waits for the next one. A reader does
        // report a writer that already left (after draining what it wrote): that is the end of the stream.
        RingPeerInfo peer = ReadIdentity(mapping, role._peerIdentityOffset);
        if (kind == RingRoleKind.Writer && !(peer.State == RingPeerState.Attached && role.IsPeerAlive()))
        {
            role._peerSettledGeneration = peer.Generation;
        }

        RingHeartbeat.Register(role);
        return role;
    }

    /// <summary>Writes the heartbeat (a process-wide timer calls this a few times a second).</summary>
    internal void Beat()
    {
        // The size check comes first: a heartbeat written into a truncated file would be SIGBUS on this thread.
        if (_attached && _mapping.IsIntact())
        {
            Volatile.Write(ref _mapping.Int64(_identityOffset + RingLayout.HeartbeatField), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
    }

    /// <summary>Null while the peer is attached and alive, never attached, or its departure was already reported; otherwise why it is gone.</summary>
    internal PeerGoneReason? GetPeerGoneReason()
    {
        RingPeerInfo peer = ReadIdentity(_mapping, _peerIdentityOffset);
        if (peer.Generation == _peerSettledGeneration)
        {
            return null;
        }

        if (peer.State == RingPeerState.Detached)
        {
            return PeerGoneReason.Closed;
        }

        if (peer.State != RingPeerState.Attached)
        {
            return null;
        }

        long now = Stopwatch.GetTimestamp();
        if (now < _nextLivenessProbe)
        {
            return null;
        }

        _nextLivenessProbe = now + _peerCheckTicks;
        return IsPeerAlive() ? null : PeerGoneReason.Died;
    }

    /// <summary>The exception for a departed peer; the departure counts as reported from now on.</summary>
    internal IpcPeerGoneException PeerGone(PeerGoneReason reason)
    {
        RingPeerInfo peer = ReadIdentity(_mapping, _peerIdentityOffset);
        _peerSettledGeneration = peer.Generation;
        return new IpcPeerGoneException(
            reason == PeerGoneReason.Closed
                ? $"The {PeerName} of ring '{_mapping.Name}' detached."
                : $"The {PeerName} of ring '{_mapping.Name}' died without detaching (process {peer.ProcessId}).",
            reason);
    }

    /// <summary>Whether a live process holds the peer role: the OS lock on Linux, pid and start time elsewhere.</summary>
    private bool IsPeerAlive() => IsRoleHeld(_mapping, _kind == RingRoleKind.Writer ? RingRoleKind.Reader : RingRoleKind.Writer);

    /// <summary>Whether some live process holds <paramref name="kind"/> on the ring.</summary>
    internal static bool IsRoleHeld(RingMapping mapping, RingRoleKind kind)
    {
        int identity = kind == RingRoleKind.Writer ? RingLayout.WriterIdentityOffset : RingLayout.ReaderIdentityOffset;
        if (OperatingSystem.IsLinux())
        {
            return Interop.FileLocks.IsLockedByOther(mapping.File, identity);
        }

        RingPeerInfo info = ReadIdentity(mapping, identity);
        return info.State == RingPeerState.Attached && Interop.ProcessInfo.IsAlive(info.ProcessId, info.StartTime);
    }

    internal static RingPeerInfo ReadIdentity(RingMapping mapping, int identityOffset) => new(
        (RingPeerState)Volatile.Read(ref mapping.Int32(identityOffset + RingLayout.StateField)),
        Volatile.Read(ref mapping.Int32(identityOffset + RingLayout.PidField)),
        Volatile.Read(ref mapping.Int64(identityOffset + RingLayout.StartTimeField)),
        Volatile.Read(ref mapping.Int64(identityOffset + RingLayout.HeartbeatField)),
        Volatile.Read(ref mapping.Int32(identityOffset + RingLayout.GenerationField)));

    /// <summary>
    /// Waits until <paramref name="ready"/> returns true (true), the timeout passes (false), the token is cancelled
    /// (OperationCanceledException), or the peer is gone with nothing left to do (IpcPeerGoneException).
    /// </summary>
    internal bool Wait(Func<bool> ready, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        long deadline = Deadline(start, timeout);
        if (SpinAndYield(ready, start, deadline, cancellationToken, out bool result))
        {
            return result;
        }

        NamedSemaphore wake = SleepSemaphore;
        ref int sleeping = ref _mapping.Int32(_sleepingOffset);
        _mapping.ThrowIfTruncated();
        while (true)
        {
            if (Announce(ref sleeping, ready, out bool done, out PeerGoneReason? gone))
            {
                return done;
            }

            if (gone is PeerGoneReason reason)
            {
                throw PeerGone(reason);
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                Withdraw(ref sleeping, wake);
                return ready();
            }

            // Nothing of the mapping is touched between this check and the sleep, nor after the wake before the next.
            _mapping.ThrowIfTruncated();
            Sleeps++;
            try
            {
                wake.Wait(Slice(now, deadline), cancellationToken);
            }
            finally
            {
                _mapping.ThrowIfTruncated();
                Withdraw(ref sleeping, wake);
            }

            if (ready())
            {
                return true;
            }
        }
    }

    /// <summary>The asynchronous form of <see cref="Wait"/>: the sleep phase awaits the semaphore without blocking a thread-pool thread.</summary>
    internal async ValueTask<bool> WaitAsync(Func<bool> ready, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        long deadline = Deadline(start, timeout);
        if (SpinAndYield(ready, start, deadline, cancellationToken, out bool result))
        {
            return result;
        }

        NamedSemaphore wake = SleepSemaphore;
        _mapping.ThrowIfTruncated();
        while (true)
        {
            if (Announce(ref _mapping.Int32(_sleepingOffset), ready, out bool done, out PeerGoneReason? gone))
            {
                return done;
            }

            if (gone is PeerGoneReason reason)
            {
                throw PeerGone(reason);
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                Withdraw(ref _mapping.Int32(_sleepingOffset), wake);
                return ready();
            }

            // Nothing of the mapping is touched between this check and the sleep, nor after the wake before the next.
            _mapping.ThrowIfTruncated();
            Sleeps++;
            try
            {
                await wake.WaitAsync(Slice(now, deadline), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _mapping.ThrowIfTruncated();
                Withdraw(ref _mapping.Int32(_sleepingOffset), wake);
            }

            if (ready())
            {
                return true;
            }
        }
    }

    /// <summary>Wakes the peer if it sleeps. The caller has just published a position with a full fence.</summary>
    /// <returns>Whether a wake-up was posted.</returns>
    internal bool WakePeer()
    {
        int peerSleepingOffset = _kind == RingRoleKind.Writer ? RingLayout.ReaderSleepingOffset : RingLayout.WriterSleepingOffset;
        ref int peerSleeping = ref _mapping.Int32(peerSleepingOffset);
        if (Volatile.Read(ref peerSleeping) == 0 || Interlocked.CompareExchange(ref peerSleeping, 0, 1) != 1)
        {
            return false;
        }

        (_kind == RingRoleKind.Writer ? _mapping.DataReady : _mapping.SpaceReady).Release();
        WakeUps++;
        return true;
    }

    private bool SpinAndYield(Func<bool> ready, long start, long deadline, CancellationToken cancellationToken, out bool result)
    {
        long spinUntil = start + _spinTicks;
        long yieldUntil = spinUntil + _yieldTicks;
        long nextPeerCheck = start + _peerCheckTicks;
        bool spinning = true;
        for (int i = 1; ; i++)
        {
            if (ready())
            {
                result = true;
                return true;
            }

            if (spinning && (i & 63) != 0)
            {
                Thread.SpinWait(1);
                continue;
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                result = ready();
                return true;
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (now >= nextPeerCheck)
            {
                nextPeerCheck = now + _peerCheckTicks;
                _mapping.ThrowIfTruncated();
                if (GetPeerGoneReason() is PeerGoneReason reason && !ready())
                {
                    throw PeerGone(reason);
                }
            }

            if (now >= yieldUntil)
            {
                result = false;
                return false;
            }

            spinning = now < spinUntil;
            if (spinning)
            {
                Thread.SpinWait(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    /// <summary>Sets the sleeping flag with a full fence and re-checks; true (with <paramref name="done"/>) if no sleep is needed.</summary>
    private bool Announce(ref int sleeping, Func<bool> ready, out bool done, out PeerGoneReason? gone)
    {
        gone = null;
        Volatile.Write(ref sleeping, 1);
        Interlocked.MemoryBarrier();
        if (ready())
        {
            Withdraw(ref sleeping, SleepSemaphore);
            done = true;
            return true;
        }

        gone = GetPeerGoneReason();
        if (gone is not null)
        {
            Withdraw(ref sleeping, SleepSemaphore);

            // A peer that published its last messages and then died: deliver them first.
            if (ready())
            {
                done = true;
                return true;
            }
        }

        done = false;
        return false;
    }

    private static void Withdraw(ref int sleeping, NamedSemaphore wake)
    {
        // If the CAS fails, the peer cleared the flag and posts (or is about to): take that count now so the next
        // sleep does not wake for nothing. If the post has not happened yet, the next sleep wakes once, harmlessly.
        if (Interlocked.CompareExchange(ref sleeping, 0, 1) == 0)
        {
            wake.TryWait();
        }
    }

    private TimeSpan Slice(long now, long deadline)
    {
        long ticks = Math.Min(deadline - now, _peerCheckTicks);
        return TimeSpan.FromSeconds(Math.Max(ticks, 0) / (double)Stopwatch.Frequency) + TimeSpan.FromMilliseconds(1);
    }

    private static long Deadline(long start, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return long.MaxValue;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        return start + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    }

    private bool TryLock()
    {
        if (OperatingSystem.IsLinux())
        {
            return Interop.FileLocks.TryLock(_mapping.File, _identityOffset);
        }

        try
        {
            _lockFile = File.OpenHandle(LockPath(_mapping.Path, _kind), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Where the role lock file lives on systems without open-file-description locks.</summary>
    internal static string LockPath(string ringPath, RingRoleKind kind) => ringPath + (kind == RingRoleKind.Writer ? ".writer.lock" : ".reader.lock");

    /// <summary>Detaches in an orderly way: the peer sees "detached", not "died".</summary>
    public void Dispose()
    {
        if (!_attached)
        {
            return;
        }

        _attached = false;
        RingHeartbeat.Unregister(this);
        if (!_mapping.IsIntact())
        {
            // A shrunk file cannot be written (SIGBUS); the kernel drops the role lock when the file is closed.
            _lockFile?.Dispose();
            return;
        }

        Volatile.Write(ref _mapping.Int32(_identityOffset + RingLayout.StateField), (int)RingPeerState.Detached);
        Interlocked.MemoryBarrier();

        // A peer asleep waiting for us would otherwise notice only at its next liveness check.
        int peerSleepingOffset = _kind == RingRoleKind.Writer ? RingLayout.ReaderSleepingOffset : RingLayout.WriterSleepingOffset;
        if (Interlocked.CompareExchange(ref _mapping.Int32(peerSleepingOffset), 0, 1) == 1)
        {
            (_kind == RingRoleKind.Writer ? _mapping.DataReady : _mapping.SpaceReady).Release();
        }

        if (OperatingSystem.IsLinux())
        {
            Interop.FileLocks.Unlock(_mapping.File, _identityOffset);
        }

        _lockFile?.Dispose();
    }
}
