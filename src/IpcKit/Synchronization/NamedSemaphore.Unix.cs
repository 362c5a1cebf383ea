using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IpcKit.Synchronization;

// POSIX implementation (Linux and macOS).
//
// POSIX semaphores have no maximum count, so each IpcKit semaphore has a companion semaphore "/ipckit.NAME~free"
// that counts the headroom (maximum - count). Release takes headroom before it adds count; a wait gives headroom
// back after it took a count. Hence count + headroom <= maximum at every instant, so count never exceeds the
// maximum, and Release can fail with SemaphoreFullException atomically across processes. A semaphore without a
// companion (created by a C program, say) has no maximum. '~' is not allowed in IpcKit names, so a companion name
// never collides with a user's semaphore. The creator makes the semaphore first, then the companion; an opener that
// finds the semaphore but no companion yet waits a few milliseconds for it.
public sealed partial class NamedSemaphore
{
    // NAME_MAX (255) for the file /dev/shm/sem.ipckit.NAME~free: 255 - "sem.".Length - "ipckit.".Length - "~free".Length.
    private const int LinuxMaxNameLength = 239;

    // PSEMNAMLEN (31) for "/ipckit.NAME~free": 31 - "/ipckit.".Length - "~free".Length.
    private const int MacMaxNameLength = 18;

    private const string FreeSuffix = "~free";
    private const uint OwnerReadWrite = 0b110_000_000; // 0600
    private const int MacMinBackoffMilliseconds = 1;
    private const int MacMaxBackoffMilliseconds = 10;

    // How long Open waits for the companion of a semaphore whose creator is between its two sem_open calls.
    private const int CompanionGraceMilliseconds = 50;

    private SafeSemaphoreHandle? _count;
    private SafeSemaphoreHandle? _free;

    internal static string PosixName(string name) => "/" + IpcName.Prefix + name;

    private static string LinuxFilePath(string posixName) => "/dev/shm/sem." + posixName[1..];

    [UnsupportedOSPlatform("windows")]
    private static NamedSemaphore CreateUnix(string name, int initialCount, int maximumCount)
    {
        string osName = PosixName(name);
        int exclusive = Interop.Semaphores.O_CREAT | Interop.Semaphores.O_EXCL;

        // The exclusive create of the semaphore itself decides who owns the name; only the winner touches the
        // companion, so racing creators cannot mix up their companions.
        SafeSemaphoreHandle count = Interop.Semaphores.SemOpen(osName, exclusive, OwnerReadWrite, (uint)initialCount);
        if (count.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            count.Dispose();
            throw Interop.GetExceptionForErrno(errno, "create", $"named semaphore '{name}' ({osName})", name);
        }

        string freeName = osName + FreeSuffix;
        SafeSemaphoreHandle free;
        try
        {
            while (true)
            {
                free = Interop.Semaphores.SemOpen(freeName, exclusive, OwnerReadWrite, (uint)(maximumCount - initialCount));
                if (!free.IsInvalid)
                {
                    break;
                }

                int errno = Marshal.GetLastPInvokeError();
                free.Dispose();
                if (errno != Interop.Errno.EEXIST)
                {
                    throw Interop.GetExceptionForErrno(errno, "create", $"the companion of named semaphore '{name}' ({freeName})", name);
                }

                // Left by an earlier semaphore of this name whose creator died before it could clean up.
                Interop.Semaphores.SemUnlink(freeName);
            }

            // sem_open applies the umask to the mode; make it exactly 0600 (a umask only ever removes bits, so the
            // object was never more open than this while it was being created).
            if (OperatingSystem.IsLinux())
            {
                SetOwnerOnly(LinuxFilePath(osName));
                SetOwnerOnly(LinuxFilePath(freeName));
            }
        }
        catch
        {
            count.Dispose();
            Interop.Semaphores.SemUnlink(osName);
            throw;
        }

        return new NamedSemaphore(name, maximumCount) { _count = count, _free = free };
    }

    [UnsupportedOSPlatform("windows")]
    private static NamedSemaphore OpenUnix(string name)
    {
        string osName = PosixName(name);
        SafeSemaphoreHandle count = Interop.Semaphores.SemOpen(osName, 0);
        if (count.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            count.Dispose();
            throw Interop.GetExceptionForErrno(errno, "open", $"named semaphore '{name}' ({osName})", name);
        }

        SafeSemaphoreHandle? free = OpenCompanion(osName + FreeSuffix);
        int? maximum = null;
        if (free is null)
        {
            maximum = int.MaxValue;
        }
        else if (OperatingSystem.IsLinux())
        {
            maximum = (int)Math.Min(int.MaxValue, (long)GetValue(count) + GetValue(free));
        }

        return new NamedSemaphore(name, maximum) { _count = count, _free = free };
    }

    [UnsupportedOSPlatform("windows")]
    private static SafeSemaphoreHandle? OpenCompanion(string freeName)
    {
        long start = Environment.TickCount64;
        while (true)
        {
            SafeSemaphoreHandle free = Interop.Semaphores.SemOpen(freeName, 0);
            if (!free.IsInvalid)
            {
                return free;
            }

            int errno = Marshal.GetLastPInvokeError();
            free.Dispose();
            if (errno != Interop.Errno.ENOENT || Environment.TickCount64 - start > CompanionGraceMilliseconds)
            {
                // No companion: the semaphore was made outside IpcKit and has no maximum.
                return null;
            }

            Thread.Sleep(1);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static bool ExistsUnix(string name) => ExistsOsName(PosixName(name));

    [UnsupportedOSPlatform("windows")]
    private static bool ExistsOsName(string osName)
    {
        using SafeSemaphoreHandle handle = Interop.Semaphores.SemOpen(osName, 0);
        if (!handle.IsInvalid)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno switch
        {
            Interop.Errno.ENOENT => false,
            Interop.Errno.EACCES => true,
            _ => throw Interop.GetExceptionForErrno(errno, "look up", $"named semaphore ({osName})", osName),
        };
    }

    [UnsupportedOSPlatform("windows")]
    private static bool DeleteUnix(string name)
    {
        string osName = PosixName(name);
        bool deleted = Unlink(name, osName);
        Unlink(name, osName + FreeSuffix);
        return deleted;
    }

    [UnsupportedOSPlatform("windows")]
    private static bool Unlink(string name, string osName)
    {
        if (Interop.Semaphores.SemUnlink(osName) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Interop.Errno.ENOENT
            ? false
            : throw Interop.GetExceptionForErrno(errno, "delete", $"named semaphore '{name}' ({osName})", name);
    }

    private static void SetOwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private int? GetCurrentCountUnix() => OperatingSystem.IsLinux() ? GetValue(_count!) : null;

    [UnsupportedOSPlatform("windows")]
    private static unsafe int GetValue(SafeSemaphoreHandle semaphore)
    {
        int value;
        if (Interop.Semaphores.SemGetValue(semaphore, &value) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IpcException($"sem_getvalue failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
        }

        return value;
    }

    [UnsupportedOSPlatform("windows")]
    private bool TryTakeUnix()
    {
        if (!TryTakeRaw())
        {
            return false;
        }

        GiveHeadroom();
        return true;
    }

    /// <summary>sem_trywait on the count alone; the caller owes the companion a post (see <see cref="GiveHeadroom"/>).</summary>
    [UnsupportedOSPlatform("windows")]
    private bool TryTakeRaw()
    {
        while (true)
        {
            if (Interop.Semaphores.SemTryWait(_count!) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.Errno.EAGAIN)
            {
                return false;
            }

            if (errno != Interop.Errno.EINTR)
            {
                throw WaitFailed(errno);
            }
        }
    }

    [UnsupportedOSPlatform("windows")]
    private bool WaitSliceUnix(int milliseconds)
    {
        if (!TakeSliceRaw(milliseconds))
        {
            return false;
        }

        GiveHeadroom();
        return true;
    }

    /// <summary>Waits up to <paramref name="milliseconds"/> for a count, without touching the companion.</summary>
    /// <returns>False on timeout or when a signal interrupted the wait; the caller's loop waits for the time left.</returns>
    [UnsupportedOSPlatform("windows")]
    private unsafe bool TakeSliceRaw(int milliseconds)
    {
        if (!OperatingSystem.IsLinux())
        {
            return TakeSliceByPolling(milliseconds);
        }

        int result;
        if (Interop.Semaphores.HasClockWait)
        {
            Interop.TimeSpec deadline = Interop.Time.Now(Interop.Time.ClockMonotonicLinux).AddMilliseconds(milliseconds);
            result = Interop.Semaphores.SemClockWait(_count!, Interop.Time.ClockMonotonicLinux, &deadline);
        }
        else
        {
            Interop.TimeSpec deadline = Interop.Time.Now(Interop.Time.ClockRealtime).AddMilliseconds(milliseconds);
            result = Interop.Semaphores.SemTimedWait(_count!, &deadline);
        }

        if (result == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Interop.Errno.ETIMEDOUT || errno == Interop.Errno.EINTR ? false : throw WaitFailed(errno);
    }

    // macOS has no sem_timedwait: poll with sem_trywait, sleeping a little longer each time up to a small bound,
    // so an idle waiter wakes about a hundred times a second instead of spinning.
    [UnsupportedOSPlatform("windows")]
    private bool TakeSliceByPolling(int milliseconds)
    {
        long start = Environment.TickCount64;
        int backoff = MacMinBackoffMilliseconds;
        while (true)
        {
            if (TryTakeRaw())
            {
                return true;
            }

            long left = milliseconds - (Environment.TickCount64 - start);
            if (left <= 0)
            {
                return false;
            }

            Thread.Sleep((int)Math.Min(left, backoff));
            backoff = Math.Min(backoff * 2, MacMaxBackoffMilliseconds);
        }
    }

    /// <summary>After a count was taken, returns one unit of headroom to the companion.</summary>
    [UnsupportedOSPlatform("windows")]
    private void GiveHeadroom()
    {
        // EOVERFLOW here means the headroom is already at SEM_VALUE_MAX: an unlimited semaphore. Nothing to record.
        if (_free is not null && Interop.Semaphores.SemPost(_free) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.Errno.EOVERFLOW)
            {
                throw new IpcException($"sem_post on the companion of {this} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }
        }
    }

    /// <summary>Undoes a raw take whose waiter was cancelled meanwhile: the count goes back, headroom was never given.</summary>
    [UnsupportedOSPlatform("windows")]
    private void ReturnRawTake() => Post(_count!);

    [UnsupportedOSPlatform("windows")]
    private void ReleaseUnix(int count)
    {
        if (_free is not null)
        {
            for (int taken = 0; taken < count; taken++)
            {
                if (Interop.Semaphores.SemTryWait(_free) == 0)
                {
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Interop.Errno.EINTR)
                {
                    taken--;
                    continue;
                }

                // Put back the headroom taken so far: the release fails as a whole.
                for (int i = 0; i < taken; i++)
                {
                    Post(_free);
                }

                if (errno == Interop.Errno.EAGAIN)
                {
                    throw new SemaphoreFullException(
                        $"Releasing {count} would take {this} past its maximum count{(MaximumCount is int maximum ? $" of {maximum}" : "")}.");
                }

                throw WaitFailed(errno);
            }
        }

        for (int i = 0; i < count; i++)
        {
            if (Interop.Semaphores.SemPost(_count!) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Interop.Errno.EOVERFLOW)
                {
                    throw new SemaphoreFullException($"{this} is at the largest count the OS allows (SEM_VALUE_MAX).");
                }

                throw new IpcException($"sem_post on {this} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }
        }
    }

    [UnsupportedOSPlatform("windows")]
    private void Post(SafeSemaphoreHandle semaphore)
    {
        if (Interop.Semaphores.SemPost(semaphore) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.Errno.EOVERFLOW)
            {
                throw new IpcException($"sem_post on {this} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }
        }
    }

    private IpcException WaitFailed(int errno) =>
        new($"Waiting on {this} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);

    [UnsupportedOSPlatform("windows")]
    private void DisposeUnix()
    {
        // SafeHandle reference counting defers sem_close until no thread is inside a call with the handle.
        _count?.Dispose();
        _free?.Dispose();
    }
}
