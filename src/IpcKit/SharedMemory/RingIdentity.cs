using Microsoft.Win32.SafeHandles;

namespace IpcKit.SharedMemory;

// Who holds a role or a slot of a ring. Each holder has an identity line (the writer's at 640, the reader's at 768, a
// slot's at 4096 + 128 × slot) and takes a lock whose loss the OS guarantees when the process dies, however it dies:
// on Linux an open-file-description lock on the line's first byte of the ring file, elsewhere an exclusive lock file.
// A line in state Attached whose lock is free belongs to a process that died without detaching. The lock answers the
// liveness question without trusting anything another process wrote; the identity line only says who it was.

/// <summary>Identity lines and the locks behind them: take, read, and ask whether a holder is alive.</summary>
internal static class RingIdentity
{
    /// <summary>Reads an identity line.</summary>
    internal static RingPeerInfo Read(RingMapping mapping, int line) => new(
        (RingPeerState)Volatile.Read(ref mapping.Int32(line + RingLayout.StateField)),
        Volatile.Read(ref mapping.Int32(line + RingLayout.PidField)),
        Volatile.Read(ref mapping.Int64(line + RingLayout.StartTimeField)),
        Volatile.Read(ref mapping.Int64(line + RingLayout.HeartbeatField)),
        Volatile.Read(ref mapping.Int32(line + RingLayout.GenerationField)));

    /// <summary>Whether a live process (another open of the file) holds the lock of <paramref name="line"/>.</summary>
    internal static bool IsHeld(RingMapping mapping, int line)
    {
        if (OperatingSystem.IsLinux())
        {
            return Interop.FileLocks.IsLockedByOther(mapping.File, line);
        }

        RingPeerInfo info = Read(mapping, line);
        return info.State == RingPeerState.Attached && Interop.ProcessInfo.IsAlive(info.ProcessId, info.StartTime);
    }

    /// <summary>Takes the lock of <paramref name="line"/> without waiting; false if a live process holds it.</summary>
    internal static bool TryLock(RingMapping mapping, int line, out SafeFileHandle? lockFile)
    {
        lockFile = null;
        if (OperatingSystem.IsLinux())
        {
            return Interop.FileLocks.TryLock(mapping.File, line);
        }

        try
        {
            lockFile = File.OpenHandle(LockPath(mapping.Path, line), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Releases what <see cref="TryLock"/> took.</summary>
    internal static void Unlock(RingMapping mapping, int line, SafeFileHandle? lockFile)
    {
        if (OperatingSystem.IsLinux())
        {
            Interop.FileLocks.Unlock(mapping.File, line);
        }

        lockFile?.Dispose();
    }

    /// <summary>Where the lock file of <paramref name="line"/> lives on systems without open-file-description locks.</summary>
    internal static string LockPath(string ringPath, int line) => line switch
    {
        RingLayout.WriterIdentityOffset => ringPath + ".writer.lock",
        RingLayout.ReaderIdentityOffset => ringPath + ".reader.lock",
        _ => ringPath + ".slot" + ((line - RingLayout.SlotsStart) / RingLayout.SlotSize).ToString(System.Globalization.CultureInfo.InvariantCulture) + ".lock",
    };

    /// <summary>The identity lines of a ring's slots.</summary>
    internal static int[] SlotLines(int slots) => [.. Enumerable.Range(0, slots).Select(RingLayout.SlotOffset)];
}
