using System.Globalization;

namespace IpcKit.Synchronization;

/// <summary>
/// A counting semaphore shared by processes on one machine through a name: the traffic light between processes.
/// Linux and macOS use POSIX named semaphores, Windows a named kernel semaphore in the session namespace.
/// </summary>
/// <remarks>
/// The OS object for name <c>N</c> is <c>/ipckit.N</c> on Linux and macOS (on Linux the file
/// <c>/dev/shm/sem.ipckit.N</c>) and <c>Local\ipckit.N</c> on Windows (<see cref="IpcName.GetSemaphoreOsName"/>);
/// see docs/named-semaphore.md. Semaphores are not owned: any process may release, and a count taken by a process
/// that dies is not returned. For mutual exclusion that survives a killed holder use <see cref="NamedLock"/>.
/// </remarks>
public sealed partial class NamedSemaphore : IDisposable
{
    // Waits without a deadline still wake up now and then, to notice Dispose and cancellation; the slice is short
    // when a token can cancel the wait, so cancellation is observed promptly, and long otherwise to stay idle.
    private const int CancellableSliceMilliseconds = 20;
    private const int IdleSliceMilliseconds = 250;

    // CreateOrOpen alternates open and exclusive create while another process creates or deletes the same name.
    private const int CreateOrOpenAttempts = 100;

    private volatile bool _disposed;

    private NamedSemaphore(string name, int? maximumCount)
    {
        Name = name;
        MaximumCount = maximumCount;
    }

    /// <summary>The IpcKit name this semaphore was created or opened with.</summary>
    public string Name { get; }

    /// <summary>
    /// The count that <see cref="Release"/> may not exceed (<see cref="int.MaxValue"/> when unlimited), or null when
    /// it cannot be known: the semaphore was opened on macOS, or was created by a program that does not use IpcKit.
    /// </summary>
    public int? MaximumCount { get; }

    /// <summary>Creates a new semaphore; fails with <see cref="IpcAlreadyExistsException"/> if the name is taken.</summary>
    /// <param name="name">The name (see <see cref="IpcName.MaxSemaphoreNameLength"/> for the rule).</param>
    /// <param name="initialCount">The count it starts with, between 0 and <paramref name="maximumCount"/>.</param>
    /// <param name="maximumCount">The highest count <see cref="Release"/> may reach; at least 1.</param>
    public static NamedSemaphore Create(string name, int initialCount, int maximumCount = int.MaxValue)
    {
        ValidateCounts(initialCount, maximumCount);
        IpcName.ValidateSemaphore(name);
        return OperatingSystem.IsWindows()
            ? CreateWindows(name, initialCount, maximumCount, openExisting: false, out _)
            : CreateUnix(name, initialCount, maximumCount);
    }

    /// <summary>Opens an existing semaphore; fails with <see cref="IpcNotFoundException"/> if there is none.</summary>
    /// <exception cref="UnauthorizedAccessException">The semaphore belongs to another user or is open to other users.</exception>
    public static NamedSemaphore Open(string name)
    {
        IpcName.ValidateSemaphore(name);
        return OperatingSystem.IsWindows() ? OpenWindows(name) : OpenUnix(name);
    }

    /// <summary>Opens the semaphore if it exists, else creates it; <paramref name="created"/> tells which happened.</summary>
    /// <exception cref="UnauthorizedAccessException">The existing semaphore belongs to another user or is open to other users.</exception>
    public static NamedSemaphore CreateOrOpen(string name, int initialCount, int maximumCount, out bool created)
    {
        ValidateCounts(initialCount, maximumCount);
        IpcName.ValidateSemaphore(name);
        if (OperatingSystem.IsWindows())
        {
            return CreateWindows(name, initialCount, maximumCount, openExisting: true, out created);
        }

        // Two processes may race here (one creating, one deleting): each tries to open, then to create exclusively.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                NamedSemaphore semaphore = OpenUnix(name);
                created = false;
                return semaphore;
            }
            catch (IpcNotFoundException) when (attempt < CreateOrOpenAttempts)
            {
            }

            try
            {
                NamedSemaphore semaphore = CreateUnix(name, initialCount, maximumCount);
                created = true;
                return semaphore;
            }
            catch (IpcAlreadyExistsException) when (attempt < CreateOrOpenAttempts)
            {
            }
        }
    }

    /// <summary>
    /// Creates a semaphore for IpcKit's own use (the ring's wake-ups) under <c>ipckit.</c> + <paramref name="internalName"/>,
    /// where the name contains '~' so it can never collide with a user's semaphore. No maximum; a stale one is replaced.
    /// </summary>
    internal static NamedSemaphore CreateInternal(string internalName)
    {
        if (OperatingSystem.IsWindows())
        {
            return CreateWindows(internalName, 0, int.MaxValue, openExisting: true, out _);
        }

        DeleteInternal(internalName);
        return new NamedSemaphore(internalName, int.MaxValue) { _count = CreateObject(internalName, internalName, 0, "semaphore") };
    }

    /// <summary>Opens a semaphore made by <see cref="CreateInternal"/>, with the same owner check as <see cref="Open"/>.</summary>
    internal static NamedSemaphore OpenInternal(string internalName)
    {
        if (OperatingSystem.IsWindows())
        {
            return OpenWindows(internalName);
        }

        return new NamedSemaphore(internalName, int.MaxValue) { _count = OpenObject(internalName, internalName, "semaphore") };
    }

    /// <summary>Removes a semaphore made by <see cref="CreateInternal"/>; false if there was none.</summary>
    internal static bool DeleteInternal(string internalName) =>
        !OperatingSystem.IsWindows() && Unlink(internalName, internalName);

    /// <summary>The POSIX name of a semaphore (internal names included), for messages.</summary>
    internal static string PosixName(string name) => IpcName.SemaphoreOsName(name);

    /// <summary>Whether a semaphore with this name exists.</summary>
    public static bool Exists(string name)
    {
        IpcName.ValidateSemaphore(name);
        return OperatingSystem.IsWindows() ? ExistsWindows(name) : ExistsUnix(name);
    }

    /// <summary>
    /// Removes the OS object. Processes that have it open keep using it; the name is free at once.
    /// Returns false if there was nothing to delete. On Windows the object lives until its last handle closes.
    /// </summary>
    public static bool Delete(string name)
    {
        IpcName.ValidateSemaphore(name);
        return !OperatingSystem.IsWindows() && DeleteUnix(name);
    }

    /// <summary>The current count, or null where the OS cannot read it (macOS). Other processes may change it at any time.</summary>
    public int? GetCurrentCount()
    {
        ThrowIfDisposed();
        return OperatingSystem.IsWindows() ? GetCurrentCountWindows() : GetCurrentCountUnix();
    }

    /// <summary>Takes one count, waiting at most <paramref name="timeout"/> (null or <see cref="Timeout.InfiniteTimeSpan"/>: no limit).</summary>
    /// <exception cref="TimeoutException">No count became available in time.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled first.</exception>
    public void Wait(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int milliseconds = ToMilliseconds(timeout, Timeout.Infinite);
        if (!WaitCore(milliseconds, cancellationToken))
        {
            throw TimedOut(milliseconds);
        }
    }

    /// <summary>Takes one count if one becomes available within <paramref name="timeout"/> (null: only if one is there now); false otherwise.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled first.</exception>
    public bool TryWait(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitCore(ToMilliseconds(timeout, 0), cancellationToken);

    /// <summary>The asynchronous <see cref="Wait"/>: it does not occupy a thread-pool thread while it waits.</summary>
    /// <exception cref="TimeoutException">No count became available in time.</exception>
    public async ValueTask WaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        int milliseconds = ToMilliseconds(timeout, Timeout.Infinite);
        if (!await WaitCoreAsync(milliseconds, cancellationToken).ConfigureAwait(false))
        {
            throw TimedOut(milliseconds);
        }
    }

    /// <summary>The asynchronous <see cref="TryWait"/>: false when no count became available in time.</summary>
    public ValueTask<bool> TryWaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitCoreAsync(ToMilliseconds(timeout, 0), cancellationToken);

    /// <summary>Adds <paramref name="count"/> to the count, waking up to that many waiters.</summary>
    /// <exception cref="SemaphoreFullException">The count would exceed <see cref="MaximumCount"/>; nothing was added.</exception>
    public void Release(int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ThrowIfDisposed();
        if (OperatingSystem.IsWindows())
        {
            ReleaseWindows(count);
        }
        else
        {
            ReleaseUnix(count);
        }
    }

    /// <summary>Closes this handle to the semaphore; the OS object stays until <see cref="Delete"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (OperatingSystem.IsWindows())
        {
            DisposeWindows();
        }
        else
        {
            DisposeUnix();
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"named semaphore '{Name}' ({IpcName.SemaphoreOsName(Name)})";

    private bool WaitCore(int timeoutMilliseconds, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (TryTakeNow())
        {
            return true;
        }

        if (timeoutMilliseconds == 0)
        {
            return false;
        }

        long start = Environment.TickCount64;
        int slice = cancellationToken.CanBeCanceled ? CancellableSliceMilliseconds : IdleSliceMilliseconds;
        while (true)
        {
            int wait = slice;
            if (timeoutMilliseconds != Timeout.Infinite)
            {
                long remaining = timeoutMilliseconds - (Environment.TickCount64 - start);
                if (remaining <= 0)
                {
                    return false;
                }

                wait = (int)Math.Min(remaining, slice);
            }

            if (OperatingSystem.IsWindows() ? WaitSliceWindows(wait) : WaitSliceUnix(wait))
            {
                return true;
            }

            ThrowIfDisposed();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private ValueTask<bool> WaitCoreAsync(int milliseconds, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        if (TryTakeNow())
        {
            return new ValueTask<bool>(true);
        }

        if (milliseconds == 0)
        {
            return new ValueTask<bool>(false);
        }

        return OperatingSystem.IsWindows()
            ? WaitWindowsAsync(milliseconds, cancellationToken)
            : new ValueTask<bool>(AsyncWaiter.Start(this, milliseconds, cancellationToken));
    }

    private bool TryTakeNow() => OperatingSystem.IsWindows() ? WaitSliceWindows(0) : TryTakeUnix();

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private TimeoutException TimedOut(int milliseconds) =>
        new($"No count on {this} within {milliseconds.ToString(CultureInfo.InvariantCulture)} ms.");

    private static void ValidateCounts(int initialCount, int maximumCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(initialCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialCount, maximumCount);
    }

    /// <summary>A timeout as milliseconds for the waits: null means <paramref name="whenNull"/>, infinite is -1.</summary>
    internal static int ToMilliseconds(TimeSpan? timeout, int whenNull, string parameterName = "timeout")
    {
        if (timeout is not TimeSpan value)
        {
            return whenNull;
        }

        long milliseconds = (long)value.TotalMilliseconds;
        if (milliseconds < -1 || milliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(parameterName, value, "The timeout must be Timeout.InfiniteTimeSpan or between 0 and int.MaxValue milliseconds.");
        }

        return (int)milliseconds;
    }
}
