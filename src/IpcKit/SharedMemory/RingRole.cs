using System.Diagnostics;
using System.Numerics;
using IpcKit.Synchronization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

/// <summary>The roles a process can hold on a ring.</summary>
internal enum RingRoleKind
{
    /// <summary>The writer of a one-to-one or broadcast ring (identity line 640).</summary>
    Writer,

    /// <summary>The reader of a one-to-one or many-to-one ring (identity line 768).</summary>
    Reader,

    /// <summary>A writer of a many-to-one ring (a slot).</summary>
    Producer,

    /// <summary>A reader of a broadcast ring (a slot).</summary>
    Subscriber,
}

/// <summary>
/// What every ring endpoint has besides its protocol cursor: holding its role (a lock the OS drops when the process
/// dies), publishing who holds it, telling whether the other side is still there, and waiting for the other side with
/// the spin-yield-sleep strategy, and waking it.
/// </summary>
/// <remarks>
/// Wake-up protocol (no lost wake-up, no system call while both sides are busy): the waiter announces that it sleeps
/// (its flag set to 1, or its bit set in the ring's sleeping-slots mask), issues a full fence, re-checks its condition,
/// and only then sleeps on its semaphore. The other side publishes its position with a full fence and reads the flag
/// or mask; only for a flag it wins (CAS 1 → 0) or a bit it clears does it post. Either the waiter's re-check sees the
/// new position or the other side's read sees the flag: the two fences forbid both reads from missing. Sleeps are
/// sliced so the waiter checks peer liveness, the file's size, deadlines and disposal.
/// Who sleeps where: a one-to-one or many-to-one reader on its flag (384) and "~rd"; a one-to-one or broadcast writer
/// on its flag (512) and "~rs"; a many-to-one producer or a broadcast subscriber on its slot's bit and "~NN".
/// </remarks>
internal sealed class RingRole : IDisposable
{
    private readonly RingMapping _mapping;
    private readonly RingRoleKind _kind;
    private readonly ILogger? _logger;
    private readonly int _line;
    private readonly int _sleepFlag;
    private readonly long _sleepBit;
    private readonly NamedSemaphore _sleepSemaphore;
    private readonly NamedSemaphore? _ownSemaphore;
    private readonly int _wakeFlag;
    private readonly NamedSemaphore? _wakeSemaphore;
    private readonly RingPeers? _peers;
    private readonly long _peerCheckTicks;
    private readonly long _spinTicks;
    private readonly long _yieldTicks;
    private SafeFileHandle? _lockFile;
    private bool _locked;
    private bool _attached;

    private RingRole(RingMapping mapping, RingRoleKind kind, RingEndpointOptions options, int line, int slot, NamedSemaphore? ownSemaphore)
    {
        _mapping = mapping;
        _kind = kind;
        _logger = options.LoggerFactory?.CreateLogger("IpcKit.SharedMemory.Ring");
        _line = line;
        Slot = slot;
        RingKind ring = mapping.Descriptor.Kind;
        (_sleepFlag, _sleepBit, _sleepSemaphore) = kind switch
        {
            RingRoleKind.Writer => (RingLayout.WriterSleepingOffset, 0L, mapping.SpaceReady),
            RingRoleKind.Reader => (RingLayout.ReaderSleepingOffset, 0L, mapping.DataReady),
            _ => (-1, 1L << slot, ownSemaphore!),
        };
        _ownSemaphore = ownSemaphore;
        (_wakeFlag, _wakeSemaphore) = (kind, ring) switch
        {
            (RingRoleKind.Writer, RingKind.OneToOne) or (RingRoleKind.Producer, _) => (RingLayout.ReaderSleepingOffset, mapping.DataReady),
            (RingRoleKind.Reader, RingKind.OneToOne) or (RingRoleKind.Subscriber, _) => (RingLayout.WriterSleepingOffset, mapping.SpaceReady),
            _ => (-1, (NamedSemaphore?)null),
        };
        TimeSpan check = options.PeerTimeout / 4;
        _peers = (kind, ring) switch
        {
            (RingRoleKind.Writer, RingKind.OneToOne) or (RingRoleKind.Producer, _) => RingPeers.Line(mapping, RingLayout.ReaderIdentityOffset, "reader", check),
            (RingRoleKind.Reader, RingKind.OneToOne) or (RingRoleKind.Subscriber, _) => RingPeers.Line(mapping, RingLayout.WriterIdentityOffset, "writer", check),
            (RingRoleKind.Reader, RingKind.ManyToOne) => RingPeers.Slots(mapping, "writers", check),
            _ => RingPeers.None,
        };
        _peerCheckTicks = Math.Max(1, (long)(check.TotalSeconds * Stopwatch.Frequency));
        _spinTicks = options.WaitStrategy.Sleeps ? (long)(options.WaitStrategy.SpinTime.TotalSeconds * Stopwatch.Frequency) : long.MaxValue / 4;
        _yieldTicks = (long)(options.WaitStrategy.YieldTime.TotalSeconds * Stopwatch.Frequency);
    }

    internal RingMapping Mapping => _mapping;

    internal ILogger? Logger => _logger;

    /// <summary>The slot this role holds (a many-to-one producer or a broadcast subscriber), else -1.</summary>
    internal int Slot { get; }

    /// <summary>The identity line of this role (also its lock byte).</summary>
    internal int Line => _line;

    /// <summary>Whether the peer that had left before this role attached died without detaching.</summary>
    internal bool PreviousPeerDied => _peers?.PreviousDied ?? false;

    /// <summary>How many times this role went to sleep on its semaphore.</summary>
    internal long Sleeps { get; private set; }

    /// <summary>How many wake-ups this role posted.</summary>
    internal long WakeUps { get; private set; }

    private string RoleName => _kind switch
    {
        RingRoleKind.Writer => "writer",
        RingRoleKind.Reader => "reader",
        RingRoleKind.Producer => "writer",
        _ => "subscriber",
    };

    /// <summary>
    /// Opens ring <paramref name="name"/>, takes the role and builds the endpoint, then announces the role as attached;
    /// whatever fails on the way releases what was taken before it.
    /// </summary>
    internal static TEndpoint Attach<TEndpoint>(string name, RingRoleKind kind, RingEndpointOptions? options, Func<RingMapping, RingRole, TEndpoint> create)
        where TEndpoint : class
    {
        options ??= new RingEndpointOptions();
        options.Validate();
        RingMapping mapping = RingMapping.Open(name);
        RingRole? role = null;
        try
        {
            kind = (kind, mapping.Descriptor.Kind) switch
            {
                (RingRoleKind.Writer, RingKind.ManyToOne) => RingRoleKind.Producer,
                (RingRoleKind.Reader, RingKind.Broadcast) => RingRoleKind.Subscriber,
                _ => kind,
            };

            // The endpoint owns the mapping and the role from here on; on failure both are released below.
#pragma warning disable CA2000
            role = kind is RingRoleKind.Producer or RingRoleKind.Subscriber ? TakeSlot(mapping, kind, options) : TakeLine(mapping, kind, options);
#pragma warning restore CA2000
            TEndpoint endpoint = create(mapping, role);
            role.Activate();
            return endpoint;
        }
        catch (IpcCorruptionException exception) when (role?.Logger is ILogger logger)
        {
            RingLog.Corruption(logger, name, exception.Position, exception.Message);
            role.Dispose();
            mapping.Dispose();
            throw;
        }
        catch
        {
            role?.Dispose();
            mapping.Dispose();
            throw;
        }
    }

    private static RingRole TakeLine(RingMapping mapping, RingRoleKind kind, RingEndpointOptions options)
    {
        int line = kind == RingRoleKind.Writer ? RingLayout.WriterIdentityOffset : RingLayout.ReaderIdentityOffset;
        if (!RingIdentity.TryLock(mapping, line, out SafeFileHandle? lockFile))
        {
            RingPeerInfo holder = RingIdentity.Read(mapping, line);
            string role = kind == RingRoleKind.Writer ? "writer" : "reader";
            string rule = mapping.Descriptor.Kind switch
            {
                RingKind.ManyToOne => "A many-to-one ring has one reader at a time.",
                RingKind.Broadcast => "A broadcast ring has one writer at a time.",
                _ => "A ring has one writer and one reader at a time.",
            };
            throw new IpcInUseException($"Ring '{mapping.Name}' already has a {role}: process {holder.ProcessId} holds the role. {rule}");
        }

        var taken = new RingRole(mapping, kind, options, line, -1, null) { _lockFile = lockFile, _locked = true };
        taken.WriteIdentity();
        Volatile.Write(ref mapping.Int32(taken._sleepFlag), 0);
        return taken;
    }

    private static RingRole TakeSlot(RingMapping mapping, RingRoleKind kind, RingEndpointOptions options)
    {
        int slots = mapping.Descriptor.Slots;
        for (int slot = 0; slot < slots; slot++)
        {
            int line = RingLayout.SlotOffset(slot);
            if (!RingIdentity.TryLock(mapping, line, out SafeFileHandle? lockFile))
            {
                continue;
            }

            if (kind == RingRoleKind.Producer && !IsReusable(mapping, line))
            {
                RingIdentity.Unlock(mapping, line, lockFile);
                continue;
            }

            NamedSemaphore? semaphore = null;
            try
            {
                // A fresh semaphore for this holder (a stale one may hold posts for the last); before the generation is published.
                semaphore = NamedSemaphore.CreateInternal(RingMapping.SlotSemaphoreName(mapping.Name, slot));
                var taken = new RingRole(mapping, kind, options, line, slot, semaphore) { _lockFile = lockFile, _locked = true };
                semaphore = null;
                mapping.Memory.AndInt64(RingLayout.SleepingSlotsOffset, ~(1L << slot));
                taken.WriteIdentity();
                return taken;
            }
            catch
            {
                semaphore?.Dispose();
                RingIdentity.Unlock(mapping, line, lockFile);
                throw;
            }
        }

        string what = kind == RingRoleKind.Producer ? "writer" : "subscriber";
        throw new IpcInUseException(
            $"Ring '{mapping.Name}' has no free {what} slot: all {slots} are held by live processes{(kind == RingRoleKind.Producer ? " (or by claims of dead writers the reader has not passed yet)" : "")}. Create the ring with more slots, or detach one.");
    }

    /// <summary>
    /// Whether a producer slot can be taken: its last holder detached, or died with every claim it may have made behind
    /// the reader (a live holder of a slot must be the author of every claim naming it).
    /// </summary>
    private static bool IsReusable(RingMapping mapping, int line)
    {
        var state = (RingPeerState)Volatile.Read(ref mapping.Int32(line + RingLayout.StateField));
        return state != RingPeerState.Attached
            || Volatile.Read(ref mapping.Int64(RingLayout.ReadPositionOffset)) >= Volatile.Read(ref mapping.Int64(line + RingLayout.SlotClaimedUpToField));
    }

    private void WriteIdentity()
    {
        ref int generation = ref _mapping.Int32(_line + RingLayout.GenerationField);
        _mapping.Int32(_line + RingLayout.PidField) = Environment.ProcessId;
        _mapping.Int64(_line + RingLayout.StartTimeField) = Interop.ProcessInfo.GetStartTime(Environment.ProcessId);
        _mapping.Int64(_line + RingLayout.HeartbeatField) = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Volatile.Write(ref generation, generation + 1);
    }

    /// <summary>Announces the role (state Attached, written last) and starts its heartbeat.</summary>
    internal void Activate()
    {
        Volatile.Write(ref _mapping.Int32(_line + RingLayout.StateField), (int)RingPeerState.Attached);
        _attached = true;
        RingHeartbeat.Register(this);
        if (_logger is not null)
        {
            RingLog.Attached(_logger, _mapping.Name, Slot >= 0 ? $"{RoleName} (slot {Slot})" : RoleName, Environment.ProcessId, RingDescriptor.Describe(_mapping.Descriptor.Kind), _mapping.Capacity);
        }
    }

    /// <summary>Writes the heartbeat (a process-wide thread calls this a few times a second).</summary>
    internal void Beat()
    {
        // The size check comes first: a heartbeat written into a truncated file would be SIGBUS on this thread.
        if (_attached && _mapping.IsIntact())
        {
            Volatile.Write(ref _mapping.Int64(_line + RingLayout.HeartbeatField), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
    }

    /// <summary>Null while the other side is there (or never came, or its departure was reported); otherwise why it is gone.</summary>
    internal IpcCloseReason? GetPeerGoneReason() => _peers?.Check();

    /// <summary>The exception for a departed peer; the departure counts as reported from now on.</summary>
    internal IpcPeerGoneException PeerGone(IpcCloseReason reason)
    {
        IpcPeerGoneException exception = _peers!.Report(reason);
        if (_logger is not null)
        {
            if (reason == IpcCloseReason.PeerDied)
            {
                RingLog.PeerDied(_logger, _mapping.Name, exception.Message);
            }
            else
            {
                RingLog.PeerDetached(_logger, _mapping.Name, exception.Message);
            }
        }

        return exception;
    }

    /// <summary>Whether the process that holds slot <paramref name="slot"/> is gone (a system call).</summary>
    internal bool IsSlotGone(int slot) => !RingIdentity.IsHeld(_mapping, RingLayout.SlotOffset(slot));

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

        _mapping.ThrowIfTruncated();
        while (true)
        {
            if (Announce(ready, out bool done, out IpcCloseReason? gone))
            {
                return done;
            }

            if (gone is IpcCloseReason reason)
            {
                throw PeerGone(reason);
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                Withdraw();
                return ready();
            }

            // Nothing of the mapping is touched between this check and the sleep, nor after the wake before the next.
            _mapping.ThrowIfTruncated();
            Sleeps++;
            try
            {
                _sleepSemaphore.TryWait(Slice(now, deadline), cancellationToken);
            }
            finally
            {
                _mapping.ThrowIfTruncated();
                Withdraw();
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

        _mapping.ThrowIfTruncated();
        while (true)
        {
            if (Announce(ready, out bool done, out IpcCloseReason? gone))
            {
                return done;
            }

            if (gone is IpcCloseReason reason)
            {
                throw PeerGone(reason);
            }

            long now = Stopwatch.GetTimestamp();
            if (now >= deadline)
            {
                Withdraw();
                return ready();
            }

            _mapping.ThrowIfTruncated();
            Sleeps++;
            try
            {
                await _sleepSemaphore.TryWaitAsync(Slice(now, deadline), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _mapping.ThrowIfTruncated();
                Withdraw();
            }

            if (ready())
            {
                return true;
            }
        }
    }

    /// <summary>Wakes the other side where it sleeps. The caller has just published a position with a full fence.</summary>
    internal void WakePeers()
    {
        if (_wakeFlag >= 0)
        {
            ref int peerSleeping = ref _mapping.Int32(_wakeFlag);
            if (Volatile.Read(ref peerSleeping) != 0 && Interlocked.CompareExchange(ref peerSleeping, 0, 1) == 1)
            {
                _wakeSemaphore!.Release();
                WakeUps++;
            }

            return;
        }

        long sleeping = Volatile.Read(ref _mapping.Int64(RingLayout.SleepingSlotsOffset));
        while (sleeping != 0)
        {
            int slot = BitOperations.TrailingZeroCount(sleeping);
            sleeping &= sleeping - 1;
            long bit = 1L << slot;
            if ((_mapping.Memory.AndInt64(RingLayout.SleepingSlotsOffset, ~bit) & bit) != 0 && slot < _mapping.Descriptor.Slots)
            {
                _mapping.SlotSemaphore(slot)?.Release();
                WakeUps++;
            }
        }
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
                if (GetPeerGoneReason() is IpcCloseReason reason && !ready())
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

    /// <summary>Announces the sleep with a full fence and re-checks; true (with <paramref name="done"/>) if no sleep is needed.</summary>
    private bool Announce(Func<bool> ready, out bool done, out IpcCloseReason? gone)
    {
        gone = null;
        if (_sleepFlag >= 0)
        {
            Volatile.Write(ref _mapping.Int32(_sleepFlag), 1);
            Interlocked.MemoryBarrier();
        }
        else
        {
            _mapping.Memory.OrInt64(RingLayout.SleepingSlotsOffset, _sleepBit);
        }

        if (ready())
        {
            Withdraw();
            done = true;
            return true;
        }

        gone = GetPeerGoneReason();
        if (gone is not null)
        {
            Withdraw();

            // A peer that published its last messages and then left: deliver them first.
            if (ready())
            {
                done = true;
                return true;
            }
        }

        done = false;
        return false;
    }

    private void Withdraw()
    {
        // If the flag or bit was already cleared, the other side posts (or is about to): take that count now so the next
        // sleep does not wake for nothing. If the post has not happened yet, the next sleep wakes once, harmlessly.
        bool cleared = _sleepFlag >= 0
            ? Interlocked.CompareExchange(ref _mapping.Int32(_sleepFlag), 0, 1) == 0
            : (_mapping.Memory.AndInt64(RingLayout.SleepingSlotsOffset, ~_sleepBit) & _sleepBit) == 0;
        if (cleared)
        {
            _sleepSemaphore.TryWait();
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

    /// <summary>Detaches in an orderly way: the other side sees "detached", not "died".</summary>
    public void Dispose()
    {
        bool attached = _attached;
        _attached = false;
        if (attached)
        {
            RingHeartbeat.Unregister(this);
        }

        if (_locked && _mapping.IsIntact())
        {
            if (attached)
            {
                // A subscriber the writer dropped stays Dropped; anyone else is Detached.
                Interlocked.CompareExchange(ref _mapping.Int32(_line + RingLayout.StateField), (int)RingPeerState.Detached, (int)RingPeerState.Attached);
                Interlocked.MemoryBarrier();

                // The other side asleep waiting for us would otherwise notice only at its next liveness check.
                WakePeers();
                if (_logger is not null)
                {
                    RingLog.Detached(_logger, _mapping.Name, Slot >= 0 ? $"{RoleName} (slot {Slot})" : RoleName);
                }
            }

            RingIdentity.Unlock(_mapping, _line, _lockFile);
        }
        else
        {
            // A shrunk file cannot be written (SIGBUS); the kernel drops the lock when the file is closed.
            _lockFile?.Dispose();
        }

        _locked = false;
        _ownSemaphore?.Dispose();
    }
}
