using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Synchronization;

// One process's view of a lock file (layout in LockFileLayout): the descriptor that carries its byte-range locks, the
// shared mapping, and the three operations everything else is built from.
//
// Take (lease i): lock the slot's first byte without waiting, then read the slot's holder (non-zero: the previous
// holder died with it) and write our pid. Give: clear the holder, unlock the byte. The order is what makes Abandoned
// exact: the holder field is non-zero only while its writer holds the byte, so whoever gets the byte next and finds it
// non-zero knows its writer lost the byte without clearing it, which only the kernel does, at the writer's death.
//
// Waiting without a lost wake-up (futex protocol): a waiter reads the wake sequence, tries every lease, and sleeps
// only while the sequence is still the value it read; a releaser unlocks, then increments the sequence, then wakes
// sleepers if the sleeper count says there are any. If the release came after the waiter read the sequence, either
// the futex sees a new value and returns at once, or the releaser sees the waiter counted and wakes it (both
// increments are full fences, so one of the two sides sees the other). A holder killed by the kernel increments
// nothing: its death closes its file, which CloseWatch turns into a nudge of the sequence; as a backstop every sleep
// is bounded (DeadHolderCheckMilliseconds) and the waiter then tries again: the kernel has already dropped the dead
// holder's byte lock, so that try succeeds.
internal sealed unsafe partial class LockFile : IDisposable
{
    /// <summary>How long a waiter sleeps at most before it looks for a lease a dead holder left (the kernel wakes nobody then).</summary>
    internal const int DeadHolderCheckMilliseconds = 50;

    /// <summary>Where futex waits are missing (macOS, Windows, 32-bit), waiters poll this often.</summary>
    private const int PollMilliseconds = 2;

    private readonly SafeFileHandle _file;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly ILogger _logger;
    private readonly byte* _base;
    private FileStream? _stream;
    private bool _readOnly;
    private int _closeWatch = -1;
    private int _closeWatchStarted;
    private int _disposed;

    private LockFile(string name, string path, int leases, SafeFileHandle file, ILogger logger)
    {
        Name = name;
        Path = path;
        Leases = leases;
        _file = file;
        _logger = logger;
        int length = LockFileLayout.FileLength(leases);
        _map = MemoryMappedFile.CreateFromFile(file, null, length, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
        try
        {
            _view = _map.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite);
        }
        catch
        {
            _map.Dispose();
            throw;
        }

        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
    }

    internal string Name { get; }

    internal string Path { get; }

    internal int Leases { get; }

    /// <summary>The futex word: incremented by every release (and by a nudge).</summary>
    internal int WakeSequence => ReadShared(LockFileLayout.WakeSequenceOffset);

    /// <summary>Waiters asleep right now, as the shared counter says (a waiter killed while asleep stays counted).</summary>
    internal int Sleepers => ReadShared(LockFileLayout.SleepersOffset);

    /// <summary>Opens the lock file of <paramref name="name"/>, creating it if needed, with <paramref name="leases"/> leases.</summary>
    internal static LockFile Open(string name, int leases, ILogger logger) =>
        OperatingSystem.IsWindows() ? OpenWindows(name, leases, logger) : OpenUnix(name, leases, logger);

    /// <summary>Takes lease <paramref name="lease"/> if nobody holds it; <paramref name="previousHolder"/> is non-zero when its last holder died with it.</summary>
    internal bool TryTake(int lease, out int previousHolder)
    {
        previousHolder = 0;
        if (!TryLockByte(LockFileLayout.SlotOffset(lease), shared: false))
        {
            return false;
        }

        Enter();
        try
        {
            ref int holder = ref Int32(LockFileLayout.SlotOffset(lease) + LockFileLayout.HolderField);
            previousHolder = Volatile.Read(ref holder);
            Volatile.Write(ref Int64(LockFileLayout.SlotOffset(lease) + LockFileLayout.AcquiredAtField), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Volatile.Write(ref holder, Environment.ProcessId);
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Gives lease <paramref name="lease"/> back: the holder mark first, then the byte. Call <see cref="WakeWaiters"/> after.</summary>
    internal void Give(int lease)
    {
        Enter();
        try
        {
            Volatile.Write(ref Int32(LockFileLayout.SlotOffset(lease) + LockFileLayout.HolderField), 0);
        }
        finally
        {
            Exit();
        }

        UnlockByte(LockFileLayout.SlotOffset(lease));
    }

    /// <summary>After a release: bump the sequence, and wake the sleepers if there are any.</summary>
    internal void WakeWaiters()
    {
        if (!TryEnter())
        {
            return;
        }

        try
        {
            Interlocked.Increment(ref Int32(LockFileLayout.WakeSequenceOffset));
            if (Volatile.Read(ref Int32(LockFileLayout.SleepersOffset)) > 0 && OperatingSystem.IsLinux() && Interop.Futex.IsSupported)
            {
                Interop.Futex.WakeAll((int*)(_base + LockFileLayout.WakeSequenceOffset));
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Wakes every waiter on this lock, here and in other processes, so that one whose token was cancelled or whose lock was disposed notices at once.</summary>
    internal void Nudge()
    {
        if (!TryEnter())
        {
            return;
        }

        try
        {
            Interlocked.Increment(ref Int32(LockFileLayout.WakeSequenceOffset));
            if (OperatingSystem.IsLinux() && Interop.Futex.IsSupported)
            {
                Interop.Futex.WakeAll((int*)(_base + LockFileLayout.WakeSequenceOffset));
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Sleeps while the wake sequence is still <paramref name="observed"/>, at most <paramref name="milliseconds"/>.</summary>
    internal void Sleep(int observed, int milliseconds)
    {
        if (!OperatingSystem.IsLinux() || !Interop.Futex.IsSupported)
        {
            if (WakeSequence == observed)
            {
                Thread.Sleep(Math.Min(milliseconds, PollMilliseconds));
            }

            return;
        }

        if (Interlocked.Exchange(ref _closeWatchStarted, 1) == 0)
        {
            // Only processes that wait watch for a holder's death; the first sleep sets it up.
            _closeWatch = CloseWatch.Add(this, _file);
        }

        Enter();
        ref int sleepers = ref Int32(LockFileLayout.SleepersOffset);
        Interlocked.Increment(ref sleepers);
        try
        {
            Interop.Futex.Wait((int*)(_base + LockFileLayout.WakeSequenceOffset), observed, milliseconds);
        }
        finally
        {
            Interlocked.Decrement(ref sleepers);
            Exit();
        }
    }

    /// <summary>What the slot of lease <paramref name="lease"/> and its byte lock say now.</summary>
    internal LockLeaseInfo ReadLease(int lease)
    {
        int offset = LockFileLayout.SlotOffset(lease);
        int holder = ReadShared(offset + LockFileLayout.HolderField);
        long since;
        Enter();
        try
        {
            since = Volatile.Read(ref Int64(offset + LockFileLayout.AcquiredAtField));
        }
        finally
        {
            Exit();
        }

        bool locked = IsByteLockedByOther(offset, out int lockPid);
        DateTimeOffset? acquired = since > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(since) : null;
        if (locked)
        {
            // A holder that is not IpcKit (a C program, lockf from a script) may lock the byte without writing its pid;
            // a classic lock then tells the pid, an open-file-description lock does not.
            int? pid = holder != 0 ? holder : lockPid > 0 ? lockPid : null;
            return new LockLeaseInfo(lease, LockLeaseState.Held, pid, holder != 0 ? acquired : null);
        }

        return holder != 0
            ? new LockLeaseInfo(lease, LockLeaseState.Abandoned, holder, acquired)
            : new LockLeaseInfo(lease, LockLeaseState.Free, null, null);
    }

    /// <summary>Whether some lease carries the mark of a holder that died; only meaningful while no other process uses the file.</summary>
    private bool HasAbandonedMarks()
    {
        for (int lease = 0; lease < Leases; lease++)
        {
            int holder = Volatile.Read(ref Int32(LockFileLayout.SlotOffset(lease) + LockFileLayout.HolderField));
            if (holder != 0)
            {
                LockLog.KeptForAbandonedMark(_logger, Name, Path, lease, holder);
                return true;
            }
        }

        return false;
    }

    /// <summary>Closes the file; the last user of the lock removes it (see the platform files).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (OperatingSystem.IsLinux() && _closeWatch >= 0)
            {
                CloseWatch.Remove(this, _closeWatch);
            }

            if (OperatingSystem.IsWindows())
            {
                CloseWindows();
            }
            else
            {
                CloseUnix();
            }
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
            _file.Dispose();
            _stream?.Dispose();
        }
    }

    private bool TryLockByte(long offset, bool shared) =>
        OperatingSystem.IsWindows() ? TryLockByteWindows(offset) : TryLockByteUnix(_file, offset, shared);

    private void UnlockByte(long offset)
    {
        if (OperatingSystem.IsWindows())
        {
            UnlockByteWindows(offset);
        }
        else
        {
            UnlockByteUnix(_file, offset);
        }
    }

    private bool IsByteLockedByOther(long offset, out int pid)
    {
        if (OperatingSystem.IsWindows())
        {
            pid = 0;
            return IsByteLockedWindows(offset);
        }

        return FindConflictUnix(_file, offset, out pid);
    }

    private int ReadShared(int offset)
    {
        Enter();
        try
        {
            return Volatile.Read(ref Int32(offset));
        }
        finally
        {
            Exit();
        }
    }

    // Every access to the mapping holds a reference on its SafeHandle, so a Dispose on another thread (a waiter is
    // still asleep on the futex word, say) defers the unmap until that access is over instead of pulling the memory
    // out from under it. After Dispose, Enter throws ObjectDisposedException.
    private void Enter()
    {
        bool added = false;
        _view.SafeMemoryMappedViewHandle.DangerousAddRef(ref added);
    }

    private bool TryEnter()
    {
        try
        {
            Enter();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private void Exit() => _view.SafeMemoryMappedViewHandle.DangerousRelease();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref int Int32(int offset) => ref Unsafe.AsRef<int>(_base + offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref long Int64(int offset) => ref Unsafe.AsRef<long>(_base + offset);
}
