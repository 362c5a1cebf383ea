namespace IpcKit.Synchronization;

/// <summary>
/// A counting semaphore shared by processes on one machine through a name: the traffic light between processes.
/// Linux and macOS use POSIX named semaphores (sem_open), Windows a named kernel semaphore in the session namespace.
/// </summary>
/// <remarks>
/// The OS object for name <c>N</c> is <c>/ipckit.N</c> on Linux and macOS (on Linux the file
/// <c>/dev/shm/sem.ipckit.N</c>) and <c>Local\ipckit.N</c> on Windows; see docs/named-semaphore.md.
/// Semaphores are not owned: any process may release, and a count taken by a process that dies is not returned.
/// </remarks>
public sealed partial class NamedSemaphore : IDisposable
{
    // Waits without a deadline still wake up now and then, to notice Dispose and cancellation; the slice is short
    // when a token can cancel the wait, so cancellation is observed promptly, and long otherwise to stay idle.
    private const int CancellableSliceMilliseconds = 20;
    private const int IdleSliceMilliseconds = 250;

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

    /// <summary>The longest name this OS accepts (the name rule: 1 or more of A-Z a-z 0-9 . _ -, not starting with '.').</summary>
    public static int MaxNameLength =>
        OperatingSystem.IsWindows() ? WindowsMaxNameLength : OperatingSystem.IsMacOS() ? MacMaxNameLength : LinuxMaxNameLength;

    /// <summary>Creates a new semaphore; fails with <see cref="IpcAlreadyExistsException"/> if the name is taken.</summary>
    /// <param name="name">The name (see <see cref="MaxNameLength"/> for the rule).</param>
    /// <param name="initialCount">The count it starts with, between 0 and <paramref name="maximumCount"/>.</param>
    /// <param name="maximumCount">The highest count <see cref="Release"/> may reach; at least 1.</param>
    public static NamedSemaphore Create(string name, int initialCount, int maximumCount = int.MaxValue)
    {
        ValidateCounts(initialCount, maximumCount);
        ValidateName(name);
        return OperatingSystem.IsWindows()
            ? CreateWindows(name, initialCount, maximumCount, openExisting: false, out _)
            : CreateUnix(name, initialCount, maximumCount);
    }

    /// <summary>Opens an existing semaphore; fails with <see cref="IpcNotFoundException"/> if there is none.</summary>
    public static NamedSemaphore Open(string name)
    {
        ValidateName(name);
        return OperatingSystem.IsWindows() ? OpenWindows(name) : OpenUnix(name);
    }

    /// <summary>Opens the semaphore if it exists, else creates it; <paramref name="created"/> tells which happened.</summary>
    public static NamedSemaphore CreateOrOpen(string name, int initialCount, int maximumCount, out bool created)
    {
        ValidateCounts(initialCount, maximumCount);
        ValidateName(name);
        if (OperatingSystem.IsWindows())
        {
            return CreateWindows(name, initialCount, maximumCount, openExisting: true, out created);
        }

        // Two processes may race here: each tries to open, then to create exclusively, until one of them wins.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                NamedSemaphore semaphore = OpenUnix(name);
                created = false;
                return semaphore;
            }
            catch (IpcNotFoundException) when (attempt < 100)
            {
            }

            try
            {
                NamedSemaphore semaphore = CreateUnix(name, initialCount, maximumCount);
                created = true;
                return semaphore;
            }
            catch (IpcAlreadyExistsException) when (attempt < 100)
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
        string osName = PosixName(internalName);
        SafeSemaphoreHandle count = Interop.Semaphores.SemOpen(osName, Interop.Semaphores.O_CREAT | Interop.Semaphores.O_EXCL, OwnerReadWrite, 0);
        if (count.IsInvalid)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            count.Dispose();
            throw Interop.GetExceptionForErrno(errno, "create", $"semaphore {osName}", internalName);
        }

        if (OperatingSystem.IsLinux())
        {
            SetOwnerOnly(LinuxFilePath(osName));
        }

        return new NamedSemaphore(internalName, int.MaxValue) { _count = count };
    }

    /// <summary>Opens a semaphore made by <see cref="CreateInternal"/>.</summary>
    internal static NamedSemaphore OpenInternal(string internalName)
    {
        if (OperatingSystem.IsWindows())
        {
            return OpenWindows(internalName);
        }

        string osName = PosixName(internalName);
        SafeSemaphoreHandle count = Interop.Semaphores.SemOpen(osName, 0);
        if (count.IsInvalid)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            count.Dispose();
            throw Interop.GetExceptionForErrno(errno, "open", $"semaphore {osName}", internalName);
        }

        return new NamedSemaphore(internalName, int.MaxValue) { _count = count };
    }

    /// <summary>Removes a semaphore made by <see cref="CreateInternal"/>; false if there was none.</summary>
    internal static bool DeleteInternal(string internalName) =>
        !OperatingSystem.IsWindows() && Unlink(internalName, PosixName(internalName));

    /// <summary>Whether a semaphore with this name exists.</summary>
    public static bool Exists(string name)
    {
        ValidateName(name);
        return OperatingSystem.IsWindows() ? ExistsWindows(name) : ExistsUnix(name);
    }

    /// <summary>
    /// Removes the OS object. Processes that have it open keep using it; the name is free at once.
    /// Returns false if there was nothing to delete. On Windows the object lives until its last handle closes.
    /// </summary>
    public static bool Delete(string name)
    {
        ValidateName(name);
        return !OperatingSystem.IsWindows() && DeleteUnix(name);
    }

    /// <summary>The OS object name for <paramref name="name"/>: <c>/ipckit.NAME</c> on Unix, <c>Local\ipckit.NAME</c> on Windows.</summary>
    public static string GetOsName(string name)
    {
        ValidateName(name);
        return OperatingSystem.IsWindows() ? WindowsName(name) : PosixName(name);
    }

    /// <summary>On Linux the file that backs the semaphore (<c>/dev/shm/sem.ipckit.NAME</c>); null elsewhere.</summary>
    public static string? GetFilePath(string name)
    {
        ValidateName(name);
        return OperatingSystem.IsLinux() ? LinuxFilePath(PosixName(name)) : null;
    }

    /// <summary>The current count, or null where the OS cannot read it (macOS). Other processes may change it at any time.</summary>
    public int? GetCurrentCount()
    {
        ThrowIfDisposed();
        return OperatingSystem.IsWindows() ? GetCurrentCountWindows() : GetCurrentCountUnix();
    }

    /// <summary>Takes one count, waiting as long as it takes.</summary>
    public void Wait() => WaitCore(Timeout.Infinite, CancellationToken.None);

    /// <summary>Takes one count, waiting until <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled first.</exception>
    public void Wait(CancellationToken cancellationToken) => WaitCore(Timeout.Infinite, cancellationToken);

    /// <summary>Takes one count, waiting at most <paramref name="timeout"/>; false if it timed out.</summary>
    public bool Wait(TimeSpan timeout) => WaitCore(ToMilliseconds(timeout), CancellationToken.None);

    /// <summary>Takes one count, waiting at most <paramref name="timeout"/> or until cancelled; false if it timed out.</summary>
    public bool Wait(TimeSpan timeout, CancellationToken cancellationToken) => WaitCore(ToMilliseconds(timeout), cancellationToken);

    /// <summary>Takes one count if one is available now, without waiting.</summary>
    public bool TryWait() => WaitCore(0, CancellationToken.None);

    /// <summary>
    /// Takes one count, waiting at most <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/> for no limit);
    /// false if it timed out. The wait does not occupy a thread-pool thread.
    /// </summary>
    public ValueTask<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        int milliseconds = ToMilliseconds(timeout);
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

    /// <summary>Takes one count, waiting asynchronously until one is available or the token is cancelled.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken = default) =>
        await WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);

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
    public override string ToString() => $"named semaphore '{Name}' ({GetOsName(Name)})";

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

    private bool TryTakeNow() => OperatingSystem.IsWindows() ? WaitSliceWindows(0) : TryTakeUnix();

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static void ValidateName(string name) => IpcName.Validate(name, MaxNameLength, "semaphore");

    private static void ValidateCounts(int initialCount, int maximumCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(initialCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialCount, maximumCount);
    }

    private static int ToMilliseconds(TimeSpan timeout)
    {
        long milliseconds = (long)timeout.TotalMilliseconds;
        if (milliseconds < -1 || milliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be Timeout.InfiniteTimeSpan or between 0 and int.MaxValue milliseconds.");
        }

        return (int)milliseconds;
    }
}
