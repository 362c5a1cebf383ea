namespace IpcKit;

// Named semaphores: the POSIX object /ipckit.NAME (on Linux the file /dev/shm/sem.ipckit.NAME, as glibc and musl lay
// it out) and, for a semaphore with a maximum, its companion /ipckit.NAME~free; the kernel object Local\ipckit.NAME on
// Windows. IpcKit's own semaphores (the ring's wake-ups) use names with '~', which the name rule forbids, so they
// never collide with a user's.
public static partial class IpcName
{
    /// <summary>The suffix of the companion semaphore that keeps a POSIX semaphore's maximum (see docs/named-semaphore.md).</summary>
    internal const string SemaphoreCompanionSuffix = "~free";

    // NAME_MAX (255) for the file sem.ipckit.NAME~free: 255 - "sem.".Length - Prefix.Length - "~free".Length.
    private const int LinuxSemaphoreMaxNameLength = 239;

    // PSEMNAMLEN (31) for "/ipckit.NAME~free": 31 - "/ipckit.".Length - "~free".Length.
    private const int MacSemaphoreMaxNameLength = 18;

    // MAX_PATH (260) for "Local\ipckit.NAME", rounded down.
    private const int WindowsSemaphoreMaxNameLength = 240;

    private const string LinuxSemaphoreFolder = "/dev/shm/";

    /// <summary>The longest semaphore name this OS accepts: 239 on Linux, 18 on macOS, 240 on Windows.</summary>
    public static int MaxSemaphoreNameLength =>
        OperatingSystem.IsWindows() ? WindowsSemaphoreMaxNameLength : OperatingSystem.IsMacOS() ? MacSemaphoreMaxNameLength : LinuxSemaphoreMaxNameLength;

    /// <summary>The OS object name of semaphore <paramref name="name"/>: <c>/ipckit.NAME</c> on Unix, <c>Local\ipckit.NAME</c> on Windows.</summary>
    public static string GetSemaphoreOsName(string name)
    {
        ValidateSemaphore(name);
        return SemaphoreOsName(name);
    }

    /// <summary>On Linux the file that backs semaphore <paramref name="name"/> (<c>/dev/shm/sem.ipckit.NAME</c>); null on other OSes.</summary>
    public static string? GetSemaphorePath(string name)
    {
        ValidateSemaphore(name);
        return OperatingSystem.IsLinux() ? SemaphoreFilePath(name) : null;
    }

    /// <summary>Checks a semaphore name against the rule and this OS's length limit.</summary>
    internal static void ValidateSemaphore(string name, string paramName = "name") =>
        Validate(name, MaxSemaphoreNameLength, "semaphore", paramName);

    /// <summary>The OS name of a semaphore, without validation (IpcKit's own names contain '~').</summary>
    internal static string SemaphoreOsName(string name) =>
        OperatingSystem.IsWindows() ? @"Local\" + Prefix + name : "/" + Prefix + name;

    /// <summary>The Linux file of a semaphore, without validation: /dev/shm/sem.ipckit.NAME.</summary>
    internal static string SemaphoreFilePath(string name) => LinuxSemaphoreFolder + "sem." + Prefix + name;
}
