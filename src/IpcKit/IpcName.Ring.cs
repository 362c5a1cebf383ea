namespace IpcKit;

// Rings: the file of ring NAME is /dev/shm/ipckit.ring.NAME on Linux (the temp folder where there is no /dev/shm),
// TEMP/ipckit.ring.NAME elsewhere; its wake-up semaphores are IpcKit's own semaphores NAME~rd and NAME~rs, and on
// many-to-one and broadcast rings NAME~00 to NAME~63, one per slot (docs/ring-format.md, "Objects"). The longest name
// is the one whose longest semaphore file still fits NAME_MAX.
public static partial class IpcName
{
    /// <summary>The prefix of ring file names: the ring "jobs" lives in <c>/dev/shm/ipckit.ring.jobs</c> on Linux.</summary>
    public const string RingFilePrefix = Prefix + "ring.";

    // Linux: the wake-up semaphore "/dev/shm/sem.ipckit.NAME~rd" must fit NAME_MAX (255): 255 - "sem.ipckit.".Length - "~rd".Length.
    // macOS: PSEMNAMLEN (31) for "/ipckit.NAME~rd". Windows: well inside MAX_PATH with the temp folder.
    private const int LinuxRingMaxNameLength = 241;
    private const int MacRingMaxNameLength = 20;
    private const int WindowsRingMaxNameLength = 120;

    /// <summary>The longest ring name on this OS: 241 on Linux, 20 on macOS, 120 on Windows.</summary>
    public static int MaxRingNameLength =>
        OperatingSystem.IsWindows() ? WindowsRingMaxNameLength : OperatingSystem.IsMacOS() ? MacRingMaxNameLength : LinuxRingMaxNameLength;

    /// <summary>The file that holds ring <paramref name="name"/>: under /dev/shm where it exists, else in the temp folder.</summary>
    /// <exception cref="ArgumentException">The name breaks the name rule or is longer than <see cref="MaxRingNameLength"/>.</exception>
    public static string GetRingPath(string name)
    {
        ValidateRing(name);
        string folder = !OperatingSystem.IsWindows() && Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return Path.Combine(folder, RingFilePrefix + name);
    }

    /// <summary>Checks a ring name against the rule and this OS's length limit.</summary>
    internal static void ValidateRing(string name, string paramName = "name") =>
        Validate(name, MaxRingNameLength, "ring", paramName);
}
