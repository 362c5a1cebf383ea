using IpcKit.Pipes;

namespace IpcKit;

// Named locks: the file FOLDER/NAME.nlock in the per-user folder that also holds pipe sockets ($XDG_RUNTIME_DIR/ipckit,
// else TEMP/ipckit-UID, created 0700 and owner-checked), or %LOCALAPPDATA%\ipckit\NAME.nlock on Windows. The suffix
// keeps a lock file apart from a pipe server's NAME.lock. The file's layout is in docs/locks.md.
public static partial class IpcName
{
    /// <summary>What a lock file's name ends with.</summary>
    internal const string LockFileSuffix = ".nlock";

    // NAME_MAX (255) for NAME.nlock.
    private const int UnixLockMaxNameLength = 255 - 6;

    // MAX_PATH (260) leaves little room after %LOCALAPPDATA%\ipckit\; the semaphore's limit keeps names portable.
    private const int WindowsLockMaxNameLength = 200;

    /// <summary>The longest lock name this OS accepts: 249 on Linux and macOS, 200 on Windows.</summary>
    public static int MaxLockNameLength => OperatingSystem.IsWindows() ? WindowsLockMaxNameLength : UnixLockMaxNameLength;

    /// <summary>The file that carries the named lock <paramref name="name"/>: <c>FOLDER/NAME.nlock</c> in this user's IpcKit folder.</summary>
    public static string GetLockPath(string name)
    {
        ValidateLock(name);
        return Path.Combine(LockFolder(), name + LockFileSuffix);
    }

    /// <summary>Checks a lock name against the rule and this OS's length limit.</summary>
    internal static void ValidateLock(string name, string paramName = "name") => Validate(name, MaxLockNameLength, "lock", paramName);

    /// <summary>This user's IpcKit folder (shared with pipe sockets on Unix); it is created and checked when a lock is opened.</summary>
    internal static string LockFolder() =>
        OperatingSystem.IsWindows()
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "ipckit")
            : PipeEndpoint.SocketFolder();
}
