using System.Buffers.Binary;
using System.Runtime.Versioning;
using IpcKit.Pipes;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Synchronization;

// Unix: opening, creating and removing a lock file. Linux locks with open-file-description locks; macOS, which has
// none, with classic fcntl locks (they belong to the process; see NamedLock.Unix.cs for what that implies).
//
// Lifecycle. The file lives in the per-user folder (0700, owner-checked) and is opened with O_NOFOLLOW, then checked on
// the opened descriptor (ours, 0600, a regular file). Every user holds the lifecycle byte shared; on its last close a
// user converts that to exclusive without waiting, which succeeds only when nobody else has the file open (failing, it
// drops its share and tries once more, so that two users closing together do not both leave it), and then unlinks it,
// unless a lease still carries a dead holder's mark (the file stays so that the lease's next owner is told).
// That opens the classic lock-file/unlink race: an opener may have opened the inode just before the unlink. So an
// opener checks, once it holds the lifecycle byte, that the path still names the inode it opened, and starts over if
// not. A creator that dies while writing the header leaves a file without the magic, which the next opener initializes
// again under the initialization byte.
internal sealed partial class LockFile
{
    private const uint OwnerReadWrite = 0b110_000_000; // 0600
    private const int OpenAttempts = 20;

    // macOS: classic fcntl locks belong to the process, so a second instance in the same process would neither conflict
    // with the first nor could close its descriptor without dropping the first one's locks. One instance per name.
    private static readonly HashSet<string> s_openOnMacOS = new(StringComparer.Ordinal);

    // A closer holds the lifecycle byte exclusively for the microseconds between its check and its unlink; an opener
    // waits at most this long for it (a process of this user that holds it longer is misbehaving: report it).
    private const int ByteWaitMilliseconds = 5_000;

    [UnsupportedOSPlatform("windows")]
    private static LockFile OpenUnix(string name, int leases, ILogger logger)
    {
        string folder = IpcName.LockFolder();
        string path = System.IO.Path.Combine(folder, name + IpcName.LockFileSuffix);
        if (OperatingSystem.IsMacOS())
        {
            lock (s_openOnMacOS)
            {
                if (!s_openOnMacOS.Add(path))
                {
                    throw new IpcInUseException(
                        $"Lock '{name}' is already open in this process; on macOS a process may have one NamedLock per name (its fcntl locks belong to the process, not to each open file). Share that instance.");
                }
            }
        }

        try
        {
            return OpenUnixCore(name, leases, logger, folder, path);
        }
        catch when (OperatingSystem.IsMacOS())
        {
            ForgetOnMacOS(path);
            throw;
        }
    }

    private static void ForgetOnMacOS(string path)
    {
        lock (s_openOnMacOS)
        {
            s_openOnMacOS.Remove(path);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static LockFile OpenUnixCore(string name, int leases, ILogger logger, string folder, string path)
    {
        for (int attempt = 1; attempt <= OpenAttempts; attempt++)
        {
            SafeFileHandle? file = null;
            try
            {
                PipeEndpoint.EnsureFolder(folder);
                file = OpenOrCreate(path, name);
                if (file is null)
                {
                    continue;
                }

                Verify(file, path, name, logger);
                TakeByte(file, LockFileLayout.LifecycleByte, shared: true, path, "open it");
                if (!StillNamed(file, path))
                {
                    // A last user removed this inode after we opened it: the name's lock file is another one now.
                    continue;
                }

                int existing = Initialize(file, path, name, leases, logger);
                if (existing != leases)
                {
                    throw new ArgumentException(
                        $"The lock '{name}' exists with {existing} lease{(existing == 1 ? "" : "s")}; this caller asked for {leases}. Every user of a name must ask for the same number of leases.",
                        nameof(leases));
                }

                var lockFile = new LockFile(name, path, leases, file, logger);
                file = null;
                return lockFile;
            }
            catch (IOException exception) when (attempt < OpenAttempts && exception is not IpcException)
            {
                // The folder vanished (a pipe server or a lock's last user removes it when it is empty) between two
                // steps; .NET reports that as DirectoryNotFound, FileNotFound or "already exists" depending on the moment.
            }
            finally
            {
                file?.Dispose();
            }
        }

        throw new IpcException($"Cannot open lock '{name}' ({path}): its file kept being replaced by other processes ({OpenAttempts} attempts).");
    }

    /// <summary>Opens an existing lock file to read it (ipckit lock info); null when there is none.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static LockFile? OpenExisting(string name)
    {
        string path = IpcName.GetLockPath(name);
        if (!OperatingSystem.IsLinux())
        {
            // Closing a second descriptor of the file would drop this process's classic locks on macOS.
            throw new PlatformNotSupportedException("Reading a lock's state needs open-file-description locks (Linux).");
        }

        SafeFileHandle? file = Interop.Files.Open(path, OpenFlags, 0, out int errno);
        try
        {
            if (file is null)
            {
                return errno == Interop.Errno.ENOENT ? null : throw OpenFailed(errno, path, name);
            }

            OwnerCheck.Verify(file, path, "lock file", OwnerCheck.Kind.RegularFile);
            Span<byte> header = stackalloc byte[LockFileLayout.HeaderSize];
            if (RandomAccess.Read(file, header, 0) < LockFileLayout.HeaderSize || BinaryPrimitives.ReadUInt64LittleEndian(header) != LockFileLayout.Magic)
            {
                // Being created right now, or left unfinished: nobody can hold it yet.
                return null;
            }

            int leases = ReadLeases(header, file, path);
            var lockFile = new LockFile(name, path, leases, file, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) { _readOnly = true };
            file = null;
            return lockFile;
        }
        finally
        {
            file?.Dispose();
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static int OpenFlags => Interop.Files.OpenReadWrite | Interop.Files.OpenNoFollow | Interop.Files.OpenCloseOnExec;

    /// <summary>Opens the file, or creates it 0600 if it is missing; null when it appeared or vanished meanwhile (try again).</summary>
    [UnsupportedOSPlatform("windows")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2000", Justification = "Open returns null on every path that does not return its handle; the analyzer cannot tie that to errno.")]
    private static SafeFileHandle? OpenOrCreate(string path, string name)
    {
        SafeFileHandle? existing = Interop.Files.Open(path, OpenFlags, 0, out int errno);
        if (existing is not null)
        {
            return existing;
        }

        if (errno != Interop.Errno.ENOENT)
        {
            throw OpenFailed(errno, path, name);
        }

        SafeFileHandle? created = Interop.Files.Open(path, OpenFlags | Interop.Files.OpenCreate | Interop.Files.OpenExclusive, OwnerReadWrite, out errno);
        if (created is null)
        {
            if (errno == Interop.Errno.EEXIST)
            {
                return null;
            }

            throw errno == Interop.Errno.ENOENT
                ? new DirectoryNotFoundException($"The folder of '{path}' was removed meanwhile.")
                : OpenFailed(errno, path, name);
        }

        try
        {
            // The umask may have removed bits from the create mode (never added any): make it exactly 0600.
            File.SetUnixFileMode(created, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch
        {
            created.Dispose();
            throw;
        }

        return created;
    }

    private static Exception OpenFailed(int errno, string path, string name) =>
        errno == Interop.Errno.ELOOP
            ? new UnauthorizedAccessException($"The lock file '{path}' is a symbolic link; IpcKit refuses to follow it. Remove it if it is not yours: rm '{path}'.")
            : Interop.GetExceptionForErrno(errno, "open", $"lock '{name}' ({path})", name);

    [UnsupportedOSPlatform("windows")]
    private static void Verify(SafeFileHandle file, string path, string name, ILogger logger)
    {
        try
        {
            OwnerCheck.Verify(file, path, "lock file", OwnerCheck.Kind.RegularFile);
        }
        catch (UnauthorizedAccessException exception)
        {
            LockLog.OwnerCheckRefused(logger, name, path, exception.Message);
            throw;
        }
    }

    /// <summary>Takes a byte lock, retrying for a bounded time: the bytes this is used for are only ever held for moments.</summary>
    [UnsupportedOSPlatform("windows")]
    private static void TakeByte(SafeFileHandle file, long offset, bool shared, string path, string purpose)
    {
        long start = Environment.TickCount64;
        while (!TryLockByteUnix(file, offset, shared))
        {
            if (Environment.TickCount64 - start > ByteWaitMilliseconds)
            {
                throw new IpcException(
                    $"Cannot {purpose}: another process has held byte {offset} of the lock file '{path}' for more than {ByteWaitMilliseconds} ms; IpcKit holds it only for moments, so that process is misbehaving.");
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>Whether <paramref name="path"/> still names the inode <paramref name="file"/> has open (and it was not unlinked).</summary>
    [UnsupportedOSPlatform("windows")]
    internal static bool StillNamed(SafeFileHandle file, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            // macOS never removes lock files (no statx to compare inodes with), so the name cannot move.
            return true;
        }

        Interop.Files.FileStatus? opened = Interop.Files.StatHandle(file, out int errno);
        if (opened is null)
        {
            return errno == Interop.Errno.ENOSYS ? true : throw Interop.GetExceptionForErrno(errno, "inspect", $"the lock file '{path}'", path);
        }

        Interop.Files.FileStatus? named = Interop.Files.StatPath(path, out errno);
        if (named is null)
        {
            return errno == Interop.Errno.ENOENT ? false : throw Interop.GetExceptionForErrno(errno, "inspect", $"the lock file '{path}'", path);
        }

        return opened.Value.LinkCount > 0 && opened.Value.Inode == named.Value.Inode;
    }

    /// <summary>Writes the header of a new or unfinished file; returns the lease count the file has.</summary>
    [UnsupportedOSPlatform("windows")]
    private static int Initialize(SafeFileHandle file, string path, string name, int leases, ILogger logger)
    {
        Span<byte> header = stackalloc byte[LockFileLayout.HeaderSize];
        if (RandomAccess.Read(file, header, 0) == LockFileLayout.HeaderSize && BinaryPrimitives.ReadUInt64LittleEndian(header) == LockFileLayout.Magic)
        {
            return ReadLeases(header, file, path);
        }

        TakeByte(file, LockFileLayout.InitializationByte, shared: false, path, $"create lock '{name}'");
        try
        {
            header.Clear();
            int read = RandomAccess.Read(file, header, 0);
            ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(header);
            if (magic == LockFileLayout.Magic)
            {
                return ReadLeases(header, file, path);
            }

            if (magic != 0)
            {
                // Not echoed: whatever is in the file is not ours to print.
                throw new IpcCorruptionException($"'{path}' is not an IpcKit lock file. Remove it if no program uses it: rm '{path}'.");
            }

            if (read > 0)
            {
                LockLog.Reinitialized(logger, name, path);
            }

            // Everything but the magic, then the magic: an opener that sees the magic sees the whole header.
            RandomAccess.SetLength(file, LockFileLayout.FileLength(leases));
            byte[] fresh = new byte[LockFileLayout.FileLength(leases)];
            BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.VersionOffset), LockFileLayout.Version);
            BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.LeasesOffset), leases);
            BinaryPrimitives.WriteInt64LittleEndian(fresh.AsSpan(LockFileLayout.CreatedAtOffset), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.CreatorPidOffset), Environment.ProcessId);
            RandomAccess.Write(file, fresh.AsSpan(sizeof(ulong)), sizeof(ulong));
            Span<byte> magicBytes = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(magicBytes, LockFileLayout.Magic);
            RandomAccess.Write(file, magicBytes, 0);
            return leases;
        }
        finally
        {
            UnlockByteUnix(file, LockFileLayout.InitializationByte);
        }
    }

    /// <summary>The lease count of a finished header, checked against the file (never trusted past the file's end).</summary>
    [UnsupportedOSPlatform("windows")]
    private static int ReadLeases(ReadOnlySpan<byte> header, SafeFileHandle file, string path)
    {
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[LockFileLayout.VersionOffset..]);
        if (version != LockFileLayout.Version)
        {
            throw new IpcCorruptionException($"The lock file '{path}' has format version {version}; this IpcKit reads version {LockFileLayout.Version}.");
        }

        int leases = BinaryPrimitives.ReadInt32LittleEndian(header[LockFileLayout.LeasesOffset..]);
        if (leases < 1 || leases > LockFileLayout.MaxLeases)
        {
            throw new IpcCorruptionException($"The lock file '{path}' claims {leases} leases; a lock has 1 to {LockFileLayout.MaxLeases}.");
        }

        long length = RandomAccess.GetLength(file);
        if (length < LockFileLayout.FileLength(leases))
        {
            throw new IpcCorruptionException($"The lock file '{path}' is {length} bytes, too short for its {leases} leases ({LockFileLayout.FileLength(leases)} bytes).");
        }

        return leases;
    }

    /// <summary>The last user (the only one that can take the lifecycle byte exclusively) removes the file.</summary>
    [UnsupportedOSPlatform("windows")]
    private void CloseUnix()
    {
        if (OperatingSystem.IsMacOS() && !_readOnly)
        {
            ForgetOnMacOS(Path);
        }

        if (_readOnly || !OperatingSystem.IsLinux())
        {
            return;
        }

        // Two users closing at the same moment would each fail to convert while the other still holds its share, and
        // both would leave the file. So a closer that fails drops its share and tries once more: of the closers, the
        // last to drop its share finds none left (or one that got there first and removes the file itself).
        if (!TryLockByteUnix(_file, LockFileLayout.LifecycleByte, shared: false))
        {
            UnlockByteUnix(_file, LockFileLayout.LifecycleByte);
            if (!TryLockByteUnix(_file, LockFileLayout.LifecycleByte, shared: false))
            {
                return;
            }
        }

        if (HasAbandonedMarks() || !StillNamed(_file, Path))
        {
            return;
        }

        if (Interop.Files.Unlink(Path) == 0)
        {
            try
            {
                // Only succeeds when nothing else is in the folder; whoever needs it next creates it again.
                Directory.Delete(System.IO.Path.GetDirectoryName(Path)!);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static bool TryLockByteUnix(SafeFileHandle file, long offset, bool shared) =>
        OperatingSystem.IsLinux() ? Interop.FileLocks.TryLock(file, offset, shared)
        : OperatingSystem.IsMacOS() ? Interop.RecordLocks.TryLock(file, offset, shared)
        : throw new PlatformNotSupportedException("Named locks need Linux, macOS or Windows.");

    [UnsupportedOSPlatform("windows")]
    private static void UnlockByteUnix(SafeFileHandle file, long offset)
    {
        if (OperatingSystem.IsLinux())
        {
            Interop.FileLocks.Unlock(file, offset);
        }
        else if (OperatingSystem.IsMacOS())
        {
            Interop.RecordLocks.Unlock(file, offset);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static bool FindConflictUnix(SafeFileHandle file, long offset, out int pid)
    {
        pid = 0;
        return OperatingSystem.IsLinux() ? Interop.FileLocks.FindConflict(file, offset, out pid)
            : OperatingSystem.IsMacOS() && Interop.RecordLocks.FindConflict(file, offset, out pid);
    }
}
