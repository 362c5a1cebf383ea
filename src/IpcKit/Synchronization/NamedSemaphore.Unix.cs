using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Synchronization;

// POSIX implementation (Linux and macOS).
//
// The maximum. POSIX semaphores have no maximum count, so each IpcKit semaphore has a companion semaphore
// "/ipckit.NAME~free" that counts the headroom (maximum - count). Release takes headroom before it adds count; a wait
// gives headroom back after it took a count. Hence count + headroom <= maximum at every instant, so count never
// exceeds the maximum, and Release can fail with SemaphoreFullException atomically across processes. A semaphore
// without a companion (created by a C program, say) has no maximum. The creator makes the semaphore first, then the
// companion; an opener that finds the semaphore but no companion yet waits a few milliseconds for it. Delete removes
// the companion first, so a companion without its semaphore is only ever left by a process killed mid-create.
//
// Trust (Linux). /dev/shm is shared by every local user, so a semaphore file found at our name may have been planted:
// world-writable with a count of five, say, so that five callers enter a section meant for one. IpcKit therefore
// does not let sem_open(3) open it: it opens /dev/shm/sem.ipckit.NAME itself (O_NOFOLLOW), checks the descriptor
// (OwnerCheck: ours, mode 0600, a regular file of exactly sizeof(sem_t)) and maps it, which is all sem_open does.
// It also creates the file itself, as an unnamed O_TMPFILE that is filled in and then linked in under its name
// (linkat fails with EEXIST if the name is taken, so the create stays exclusive): a creator killed at any moment
// leaves nothing, where glibc's sem_open leaves a temporary sem.XXXXXX behind. The format is glibc's and musl's, so C
// programs using sem_open interoperate. macOS has no semaphore files: sem_open applies the mode, and nothing can be
// checked after it (compiled, not tested).
public sealed partial class NamedSemaphore
{
    private const uint OwnerReadWrite = 0b110_000_000; // 0600
    private const int MacMinBackoffMilliseconds = 1;
    private const int MacMaxBackoffMilliseconds = 10;

    // How long Open waits for the companion of a semaphore whose creator is between its two creates.
    private const int CompanionGraceMilliseconds = 50;

    // A stale companion is removed and the create retried; a companion that keeps coming back is an error.
    private const int CompanionAttempts = 3;

    private const string TemporaryFolder = "/dev/shm";

    /// <summary>sizeof(sem_t) for glibc and musl: 32 bytes on 64-bit Linux, 16 on 32-bit.</summary>
    private static int SemaphoreSize => IntPtr.Size == 8 ? 32 : 16;

    private SafeSemaphoreHandle? _count;
    private SafeSemaphoreHandle? _free;

    [UnsupportedOSPlatform("windows")]
    private static NamedSemaphore CreateUnix(string name, int initialCount, int maximumCount)
    {
        // The exclusive create of the semaphore itself decides who owns the name; only the winner touches the
        // companion, so racing creators cannot mix up their companions.
        SafeSemaphoreHandle count = CreateObject(name, name, (uint)initialCount, "named semaphore");
        string free = name + IpcName.SemaphoreCompanionSuffix;
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                if (TryCreateObject(free, name, (uint)(maximumCount - initialCount), "the companion of named semaphore", out SafeSemaphoreHandle? companion))
                {
                    return new NamedSemaphore(name, maximumCount) { _count = count, _free = companion };
                }

                if (attempt == CompanionAttempts)
                {
                    throw new IpcException(
                        $"Cannot create named semaphore '{name}': its companion {IpcName.SemaphoreOsName(free)} reappeared {CompanionAttempts} times after being removed; another process keeps creating it.");
                }

                // Left by an earlier semaphore of this name whose creator was killed before it could clean up.
                RemoveStaleCompanion(name, free);
            }
        }
        catch
        {
            count.Dispose();
            try
            {
                Unlink(name, name);
            }
            catch (Exception cleanup) when (cleanup is IpcException or UnauthorizedAccessException)
            {
                // The create's own error is the one to report; the semaphore we made is ours and normally goes.
            }

            throw;
        }
    }

    /// <summary>Creates the OS object exclusively; <see cref="IpcAlreadyExistsException"/> if the name is taken.</summary>
    [UnsupportedOSPlatform("windows")]
    private static SafeSemaphoreHandle CreateObject(string objectName, string name, uint value, string what) =>
        TryCreateObject(objectName, name, value, what, out SafeSemaphoreHandle? handle)
            ? handle
            : throw new IpcAlreadyExistsException(name, $"Cannot create {Describe(what, name, objectName)}: it already exists.");

    [UnsupportedOSPlatform("windows")]
    private static bool TryCreateObject(string objectName, string name, uint value, string what, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeSemaphoreHandle? handle)
    {
        if (OperatingSystem.IsLinux())
        {
            handle = CreateFile(objectName, name, value, what);
            if (handle is not null)
            {
                return true;
            }
        }
        else
        {
            handle = Interop.Semaphores.SemOpen(IpcName.SemaphoreOsName(objectName), Interop.Semaphores.O_CREAT | Interop.Semaphores.O_EXCL, OwnerReadWrite, value);
            if (!handle.IsInvalid)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            handle = null;
            if (errno != Interop.Errno.EEXIST)
            {
                throw Interop.GetExceptionForErrno(errno, "create", Describe(what, name, objectName), name);
            }
        }

        return false;
    }

    /// <summary>
    /// Linux: writes a process-shared sem_t into an unnamed file in /dev/shm and links it in under its name. Null when
    /// the name is taken. Where O_TMPFILE or /proc is missing, falls back to sem_open (which uses a named temporary).
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static unsafe SafeSemaphoreHandle? CreateFile(string objectName, string name, uint value, string what)
    {
        string path = IpcName.SemaphoreFilePath(objectName);
        int flags = Interop.Files.OpenTemporary | Interop.Files.OpenReadWrite | Interop.Files.OpenCloseOnExec;
        using SafeFileHandle? file = Interop.Files.Open(TemporaryFolder, flags, OwnerReadWrite, out int errno);
        if (file is null)
        {
            return errno == Interop.Errno.EOPNOTSUPP || errno == Interop.Errno.EISDIR || errno == Interop.Errno.EINVAL
                ? CreateWithSemOpen(objectName, name, value, what)
                : throw Interop.GetExceptionForErrno(errno, "create", Describe(what, name, objectName), name);
        }

        // The umask may have removed bits from the create mode (it never adds any): make it exactly 0600.
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        byte[] semaphore = new byte[SemaphoreSize];
        fixed (byte* buffer = semaphore)
        {
            if (Interop.Semaphores.SemInit(buffer, 1, value) != 0)
            {
                throw Interop.GetExceptionForErrno(Marshal.GetLastPInvokeError(), "initialize", Describe(what, name, objectName), name);
            }
        }

        RandomAccess.Write(file, semaphore, 0);
        SafeSemaphoreHandle? handle = Map(file, path, name, what, objectName);
        int link;
        try
        {
            link = Interop.Files.LinkTemporary(file, path);
            if (link == 0)
            {
                (SafeSemaphoreHandle linked, handle) = (handle, null);
                return linked;
            }
        }
        finally
        {
            handle?.Dispose();
        }

        if (link == Interop.Errno.EEXIST)
        {
            return null;
        }

        return link == Interop.Errno.ENOENT && !Directory.Exists("/proc/self/fd")
            ? CreateWithSemOpen(objectName, name, value, what)
            : throw Interop.GetExceptionForErrno(link, "create", Describe(what, name, objectName), name);
    }

    [SupportedOSPlatform("linux")]
    private static SafeSemaphoreHandle? CreateWithSemOpen(string objectName, string name, uint value, string what)
    {
        string osName = IpcName.SemaphoreOsName(objectName);
        using (SafeSemaphoreHandle created = Interop.Semaphores.SemOpen(osName, Interop.Semaphores.O_CREAT | Interop.Semaphores.O_EXCL, OwnerReadWrite, value))
        {
            if (created.IsInvalid)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno == Interop.Errno.EEXIST ? null : throw Interop.GetExceptionForErrno(errno, "create", Describe(what, name, objectName), name);
            }
        }

        File.SetUnixFileMode(IpcName.SemaphoreFilePath(objectName), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return OpenObject(objectName, name, what);
    }

    /// <summary>Opens an existing OS object; on Linux by its file, checked on the opened descriptor.</summary>
    [UnsupportedOSPlatform("windows")]
    private static SafeSemaphoreHandle OpenObject(string objectName, string name, string what)
    {
        if (!OperatingSystem.IsLinux())
        {
            SafeSemaphoreHandle semaphore = Interop.Semaphores.SemOpen(IpcName.SemaphoreOsName(objectName), 0);
            if (semaphore.IsInvalid)
            {
                int errno = Marshal.GetLastPInvokeError();
                semaphore.Dispose();
                throw Interop.GetExceptionForErrno(errno, "open", Describe(what, name, objectName), name);
            }

            return semaphore;
        }

        string path = IpcName.SemaphoreFilePath(objectName);
        using SafeFileHandle? file = Interop.Files.Open(path, Interop.Files.OpenReadWrite | Interop.Files.OpenNoFollow | Interop.Files.OpenCloseOnExec, 0, out int error);
        if (file is null)
        {
            throw error == Interop.Errno.ELOOP
                ? new UnauthorizedAccessException($"The {Describe(what, name, objectName)} '{path}' is a symbolic link; IpcKit refuses to follow it. Remove it if it is not yours: rm '{path}'.")
                : Interop.GetExceptionForErrno(error, "open", Describe(what, name, objectName), name);
        }

        OwnerCheck.Verify(file, path, what, OwnerCheck.Kind.RegularFile);
        long length = RandomAccess.GetLength(file);
        if (length != SemaphoreSize)
        {
            throw new IpcCorruptionException($"'{path}' is not a POSIX semaphore: it is {length} bytes, not {SemaphoreSize}. Remove it if it is not in use.");
        }

        return Map(file, path, name, what, objectName);
    }

    [UnsupportedOSPlatform("windows")]
    private static SafeSemaphoreHandle Map(SafeFileHandle file, string path, string name, string what, string objectName)
    {
        nint address = Interop.Memory.MapShared(file, SemaphoreSize, out int errno);
        return address == -1
            ? throw Interop.GetExceptionForErrno(errno, "map", $"{Describe(what, name, objectName)} ({path})", name)
            : SafeSemaphoreHandle.FromMapping(address, SemaphoreSize);
    }

    /// <summary>Removes a companion left without its semaphore, unless another user owns it (then it is an error, not ours to remove).</summary>
    [UnsupportedOSPlatform("windows")]
    private static void RemoveStaleCompanion(string name, string free)
    {
        if (OperatingSystem.IsLinux())
        {
            string path = IpcName.SemaphoreFilePath(free);
            Interop.Files.FileStatus? status = Interop.Files.StatPath(path, out _);
            uint me = Interop.Files.GetEffectiveUserId();
            if (status is { } found && found.UserId != me)
            {
                throw new UnauthorizedAccessException(
                    $"Cannot create named semaphore '{name}': its companion '{path}' already exists and belongs to {OwnerCheck.DescribeUser(found.UserId)}, not to this user ({OwnerCheck.DescribeUser(me)}); IpcKit does not use or remove another user's objects. Ask its owner or an administrator to remove it, or use another name.");
            }
        }

        Unlink(name, free);
    }

    [UnsupportedOSPlatform("windows")]
    private static NamedSemaphore OpenUnix(string name)
    {
        SafeSemaphoreHandle count = OpenObject(name, name, "named semaphore");
        try
        {
            SafeSemaphoreHandle? free = OpenCompanion(name);
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
        catch
        {
            count.Dispose();
            throw;
        }
    }

    /// <summary>The companion, or null when there is none (a semaphore made outside IpcKit: no maximum).</summary>
    [UnsupportedOSPlatform("windows")]
    private static SafeSemaphoreHandle? OpenCompanion(string name)
    {
        string free = name + IpcName.SemaphoreCompanionSuffix;
        long start = Environment.TickCount64;
        while (true)
        {
            try
            {
                return OpenObject(free, name, "companion of named semaphore");
            }
            catch (IpcNotFoundException) when (Environment.TickCount64 - start <= CompanionGraceMilliseconds)
            {
                // Its creator is between its two creates: give it a moment (bounded by the grace period).
                Thread.Sleep(1);
            }
            catch (IpcNotFoundException)
            {
                return null;
            }
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static bool ExistsUnix(string name)
    {
        if (OperatingSystem.IsLinux())
        {
            // Any entry at the name counts, ours or not: it occupies the name.
            string path = IpcName.SemaphoreFilePath(name);
            if (Interop.Files.StatPath(path, out int errno) is not null)
            {
                return true;
            }

            return errno == Interop.Errno.ENOENT ? false
                : errno == Interop.Errno.ENOSYS ? File.Exists(path)
                : throw Interop.GetExceptionForErrno(errno, "look up", $"named semaphore '{name}' ({path})", name);
        }

        using SafeSemaphoreHandle handle = Interop.Semaphores.SemOpen(IpcName.SemaphoreOsName(name), 0);
        if (!handle.IsInvalid)
        {
            return true;
        }

        int error = Marshal.GetLastPInvokeError();
        return error == Interop.Errno.ENOENT ? false
            : error == Interop.Errno.EACCES ? true
            : throw Interop.GetExceptionForErrno(error, "look up", $"named semaphore '{name}'", name);
    }

    [UnsupportedOSPlatform("windows")]
    private static bool DeleteUnix(string name)
    {
        // Companion first: whoever finds the semaphore gone also finds no companion (see the top of this file).
        Unlink(name, name + IpcName.SemaphoreCompanionSuffix);
        return Unlink(name, name);
    }

    /// <summary>sem_unlink; false if there was nothing, and any other failure (another user's object, say) is an error.</summary>
    [UnsupportedOSPlatform("windows")]
    private static bool Unlink(string name, string objectName)
    {
        string osName = IpcName.SemaphoreOsName(objectName);
        if (Interop.Semaphores.SemUnlink(osName) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Interop.Errno.ENOENT
            ? false
            : throw Interop.GetExceptionForErrno(errno, "delete", Describe("semaphore", name, objectName), name);
    }

    private static string Describe(string what, string name, string objectName) =>
        $"{what} '{name}' ({IpcName.SemaphoreOsName(objectName)})";

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
        // SafeHandle reference counting defers munmap/sem_close until no thread is inside a call with the handle.
        _count?.Dispose();
        _free?.Dispose();
    }
}
