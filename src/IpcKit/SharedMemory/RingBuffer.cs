using IpcKit.Synchronization;

namespace IpcKit.SharedMemory;

/// <summary>
/// Creates, inspects and deletes shared-memory rings. A ring is a single-producer, single-consumer queue of
/// variable-length messages in a memory-mapped file; attach a <see cref="RingWriter"/> in one process and a
/// <see cref="RingReader"/> in another. The format is specified in docs/ring-format.md.
/// </summary>
public static class RingBuffer
{
    /// <summary>The prefix of ring file names: the ring "jobs" lives in <c>/dev/shm/ipckit.ring.jobs</c> on Linux.</summary>
    public const string FilePrefix = "ipckit.ring.";

    // Linux: the wake-up semaphore "/dev/shm/sem.ipckit.NAME~rd" must fit NAME_MAX (255): 255 - "sem.ipckit.".Length - "~rd".Length.
    // macOS: PSEMNAMLEN (31) for "/ipckit.NAME~rd". Windows: well inside MAX_PATH with the temp folder.
    private const int LinuxMaxNameLength = 241;
    private const int MacMaxNameLength = 20;
    private const int WindowsMaxNameLength = 120;

    /// <summary>The longest ring name on this OS (the rule: 1 or more of A-Z a-z 0-9 . _ -, not starting with '.').</summary>
    public static int MaxNameLength =>
        OperatingSystem.IsWindows() ? WindowsMaxNameLength : OperatingSystem.IsMacOS() ? MacMaxNameLength : LinuxMaxNameLength;

    /// <summary>Creates a ring; fails with <see cref="IpcAlreadyExistsException"/> if one with this name exists.</summary>
    public static void Create(string name, RingOptions? options = null)
    {
        ValidateName(name);
        RingMapping.Create(name, options ?? new RingOptions());
    }

    /// <summary>Whether a ring file with this name exists.</summary>
    public static bool Exists(string name)
    {
        ValidateName(name);
        return File.Exists(GetPath(name));
    }

    /// <summary>
    /// Removes the ring's file and its semaphores; processes attached keep their mapping until they detach.
    /// Returns false if there was no ring file.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">What is at the name is not this user's private ring file; nothing is removed.</exception>
    public static bool Delete(string name)
    {
        ValidateName(name);
        string path = GetPath(name);
        bool existed = RingFile.DeleteChecked(name, path);
        if (!OperatingSystem.IsLinux())
        {
            // Role lock files exist only where there are no OFD locks; on Linux their names may not even be valid
            // (a 241-character ring name plus ".writer.lock" is longer than a file name may be).
            File.Delete(RingRole.LockPath(path, RingRoleKind.Writer));
            File.Delete(RingRole.LockPath(path, RingRoleKind.Reader));
        }

        NamedSemaphore.DeleteInternal(RingMapping.DataSemaphoreName(name));
        NamedSemaphore.DeleteInternal(RingMapping.SpaceSemaphoreName(name));
        return existed;
    }

    /// <summary>The file that holds the ring: under /dev/shm where it exists, else in the temp folder.</summary>
    public static string GetPath(string name)
    {
        ValidateName(name);
        string folder = !OperatingSystem.IsWindows() && Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return Path.Combine(folder, FilePrefix + name);
    }

    /// <summary>A snapshot of the ring's layout, positions and attached processes.</summary>
    public static RingInfo Inspect(string name)
    {
        ValidateName(name);
        using RingMapping mapping = RingMapping.Open(name);
        return new RingInfo
        {
            Name = name,
            Path = mapping.Path,
            Capacity = mapping.Capacity,
            MaxMessageSize = mapping.MaxMessageSize,
            WritePosition = Volatile.Read(ref mapping.WritePosition),
            ReadPosition = Volatile.Read(ref mapping.ReadPosition),
            Writer = RingRole.ReadIdentity(mapping, RingLayout.WriterIdentityOffset),
            WriterAlive = RingRole.IsRoleHeld(mapping, RingRoleKind.Writer),
            Reader = RingRole.ReadIdentity(mapping, RingLayout.ReaderIdentityOffset),
            ReaderAlive = RingRole.IsRoleHeld(mapping, RingRoleKind.Reader),
            CreatorProcessId = mapping.Int32(RingLayout.CreatorPidOffset),
            CreatedAtUnixMilliseconds = mapping.Int64(RingLayout.CreatedAtOffset),
        };
    }

    /// <summary>Whether the ring exists and no live process is attached to it (its users exited or died).</summary>
    public static bool IsAbandoned(string name)
    {
        ValidateName(name);
        try
        {
            using RingMapping mapping = RingMapping.Open(name);
            return !RingRole.IsRoleHeld(mapping, RingRoleKind.Writer) && !RingRole.IsRoleHeld(mapping, RingRoleKind.Reader);
        }
        catch (IpcNotFoundException)
        {
            return false;
        }
        catch (IpcCorruptionException)
        {
            // Never finished or not a ring at all: nobody can be using it.
            return true;
        }
    }

    internal static void ValidateName(string name) => IpcName.Validate(name, MaxNameLength, "ring");
}
