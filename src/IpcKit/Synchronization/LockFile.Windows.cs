using System.Buffers.Binary;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace IpcKit.Synchronization;

// Windows (compiled, not tested in CI): the lock file is %LOCALAPPDATA%\ipckit\NAME.nlock, a folder only the user can
// reach. Byte locks are LockFile ranges (FileStream.Lock): owned by the handle, dropped by the system when the handle
// closes or the process dies. Every user opens the file with FILE_FLAG_DELETE_ON_CLOSE, so the system removes it when
// the last handle closes; a dead holder's mark goes with it if nobody else had the lock open. There is no futex across
// processes: waiters poll (LockFile.PollMilliseconds).
internal sealed partial class LockFile
{
    [SupportedOSPlatform("windows")]
    private static LockFile OpenWindows(string name, int leases, ILogger logger)
    {
        string folder = IpcName.LockFolder();
        string path = System.IO.Path.Combine(folder, name + IpcName.LockFileSuffix);
        Directory.CreateDirectory(folder);
        FileStream? stream = new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.DeleteOnClose);
        try
        {
            long start = Environment.TickCount64;
            while (!TryLock(stream, LockFileLayout.InitializationByte))
            {
                if (Environment.TickCount64 - start > ByteWaitMilliseconds)
                {
                    throw new IpcException($"Cannot create lock '{name}': another process has held the lock file '{path}' for more than {ByteWaitMilliseconds} ms.");
                }

                Thread.Sleep(1);
            }

            int existing;
            try
            {
                byte[] header = new byte[LockFileLayout.HeaderSize];
                int read = RandomAccess.Read(stream.SafeFileHandle, header, 0);
                ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(header);
                if (magic == LockFileLayout.Magic)
                {
                    existing = ReadLeasesWindows(header, stream, path);
                }
                else if (magic != 0)
                {
                    throw new IpcCorruptionException($"'{path}' is not an IpcKit lock file. Remove it if no program uses it.");
                }
                else
                {
                    if (read > 0)
                    {
                        LockLog.Reinitialized(logger, name, path);
                    }

                    byte[] fresh = new byte[LockFileLayout.FileLength(leases)];
                    BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.VersionOffset), LockFileLayout.Version);
                    BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.LeasesOffset), leases);
                    BinaryPrimitives.WriteInt64LittleEndian(fresh.AsSpan(LockFileLayout.CreatedAtOffset), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    BinaryPrimitives.WriteInt32LittleEndian(fresh.AsSpan(LockFileLayout.CreatorPidOffset), Environment.ProcessId);
                    BinaryPrimitives.WriteUInt64LittleEndian(fresh, LockFileLayout.Magic);
                    RandomAccess.Write(stream.SafeFileHandle, fresh, 0);
                    existing = leases;
                }
            }
            finally
            {
                stream.Unlock(LockFileLayout.InitializationByte, 1);
            }

            if (existing != leases)
            {
                throw new ArgumentException(
                    $"The lock '{name}' exists with {existing} leases; this caller asked for {leases}. Every user of a name must ask for the same number of leases.",
                    nameof(leases));
            }

            var lockFile = new LockFile(name, path, leases, stream.SafeFileHandle, logger) { _stream = stream };
            stream = null;
            return lockFile;
        }
        finally
        {
            stream?.Dispose();
        }
    }

    [SupportedOSPlatform("windows")]
    private static int ReadLeasesWindows(byte[] header, FileStream stream, string path)
    {
        int leases = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(LockFileLayout.LeasesOffset));
        if (BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(LockFileLayout.VersionOffset)) != LockFileLayout.Version
            || leases < 1 || leases > LockFileLayout.MaxLeases || stream.Length < LockFileLayout.FileLength(leases))
        {
            throw new IpcCorruptionException($"The lock file '{path}' has a header this IpcKit does not accept.");
        }

        return leases;
    }

    // Nothing to do: DELETE_ON_CLOSE removes the file when the last handle closes.
    private static void CloseWindows()
    {
    }

    [SupportedOSPlatform("windows")]
    private static bool TryLock(FileStream stream, long offset)
    {
        try
        {
            stream.Lock(offset, 1);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    [SupportedOSPlatform("windows")]
    private bool TryLockByteWindows(long offset) => TryLock(_stream!, offset);

    [SupportedOSPlatform("windows")]
    private void UnlockByteWindows(long offset) => _stream!.Unlock(offset, 1);

    [SupportedOSPlatform("windows")]
    private bool IsByteLockedWindows(long offset)
    {
        if (!TryLock(_stream!, offset))
        {
            return true;
        }

        _stream!.Unlock(offset, 1);
        return false;
    }
}
