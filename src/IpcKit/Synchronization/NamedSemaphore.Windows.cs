using System.Runtime.Versioning;

namespace IpcKit.Synchronization;

// Windows implementation: a named kernel semaphore in the session's Local\ namespace, so processes of one logon
// session share it and other sessions (other users, services) cannot see it.
public sealed partial class NamedSemaphore
{
    private Semaphore? _windows;

    private static string WindowsName(string name) => IpcName.SemaphoreOsName(name);

    [SupportedOSPlatform("windows")]
    private static NamedSemaphore CreateWindows(string name, int initialCount, int maximumCount, bool openExisting, out bool created)
    {
        string osName = WindowsName(name);
        var semaphore = new Semaphore(initialCount, maximumCount, osName, out created);
        if (!created && !openExisting)
        {
            semaphore.Dispose();
            throw new IpcAlreadyExistsException(name, $"Cannot create named semaphore '{name}' ({osName}): it already exists.");
        }

        int? maximum = created ? maximumCount : QueryWindows(semaphore).Maximum;
        return new NamedSemaphore(name, maximum) { _windows = semaphore };
    }

    [SupportedOSPlatform("windows")]
    private static NamedSemaphore OpenWindows(string name)
    {
        string osName = WindowsName(name);
        if (!Semaphore.TryOpenExisting(osName, out Semaphore? semaphore))
        {
            throw new IpcNotFoundException(name, $"Cannot open named semaphore '{name}' ({osName}): it does not exist.");
        }

        return new NamedSemaphore(name, QueryWindows(semaphore).Maximum) { _windows = semaphore };
    }

    [SupportedOSPlatform("windows")]
    private static bool ExistsWindows(string name)
    {
        try
        {
            if (Semaphore.TryOpenExisting(WindowsName(name), out Semaphore? semaphore))
            {
                semaphore.Dispose();
                return true;
            }

            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    [SupportedOSPlatform("windows")]
    private int? GetCurrentCountWindows() => QueryWindows(_windows!).Current;

    [SupportedOSPlatform("windows")]
    private static unsafe (int? Current, int? Maximum) QueryWindows(Semaphore semaphore)
    {
        Interop.NtDll.SemaphoreBasicInformation information;
        int status = Interop.NtDll.NtQuerySemaphore(
            semaphore.SafeWaitHandle, 0, &information, sizeof(Interop.NtDll.SemaphoreBasicInformation), out _);
        return status == 0 ? (information.CurrentCount, information.MaximumCount) : (null, null);
    }

    private bool WaitSliceWindows(int milliseconds) => _windows!.WaitOne(milliseconds);

    [SupportedOSPlatform("windows")]
    private void ReleaseWindows(int count) => _windows!.Release(count);

    [SupportedOSPlatform("windows")]
    private ValueTask<bool> WaitWindowsAsync(int milliseconds, CancellationToken cancellationToken)
    {
        // A registered wait shares one OS wait thread among many handles, so no thread is held per waiter.
        var completion = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        RegisteredWaitHandle? registration = null;
        CancellationTokenRegistration cancellation = default;
        registration = ThreadPool.UnsafeRegisterWaitForSingleObject(
            _windows!,
            (_, timedOut) =>
            {
                if (completion.TrySetResult(!timedOut))
                {
                    cancellation.Dispose();
                }
                else if (!timedOut)
                {
                    // Cancelled after the count was taken: give it back.
                    _windows!.Release();
                }
            },
            null,
            milliseconds,
            executeOnlyOnce: true);
        if (cancellationToken.CanBeCanceled)
        {
            cancellation = cancellationToken.UnsafeRegister(
                _ =>
                {
                    if (completion.TrySetCanceled(cancellationToken))
                    {
                        registration.Unregister(null);
                    }
                },
                null);
        }

        return new ValueTask<bool>(completion.Task);
    }

    [SupportedOSPlatform("windows")]
    private void DisposeWindows() => _windows?.Dispose();
}
