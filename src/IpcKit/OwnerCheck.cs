using System.Globalization;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace IpcKit;

// Trust nothing found at a name. /dev/shm, the temp folder and (on a misconfigured machine) the runtime folder are
// shared by every local user, so whatever IpcKit finds at one of its names may have been put there by someone else:
// a world-writable ring file whose squatter reads every message, a semaphore created with a count of five, a
// symlink to a private file. Every object opened by name is therefore checked on the descriptor that was opened
// (never by a second lookup of the path, which another process could swap in between): it must belong to the
// effective user, grant nothing to group or others, and be the kind of object expected. A refusal names the path,
// the owner and the mode, and says what to do; it is an UnauthorizedAccessException (exit code 5).
internal static class OwnerCheck
{
    /// <summary>The file type an object must have.</summary>
    internal enum Kind
    {
        RegularFile,
        Directory,
        Socket,
    }

    private const uint GroupAndOtherBits = 0b000_111_111;
    private const uint TypeRegular = 0x8000;
    private const uint TypeSocket = 0xC000;

    /// <summary>Checks an opened object: ours, of <paramref name="kind"/>, and with no group or other permission bits.</summary>
    /// <param name="handle">The descriptor that was opened by name (the check must not look the path up again).</param>
    /// <param name="path">The path it was opened at, for the message.</param>
    /// <param name="what">What it is, for the message ("ring file", "lock file").</param>
    /// <param name="kind">The file type it must have.</param>
    /// <exception cref="UnauthorizedAccessException">It belongs to another user, is not of <paramref name="kind"/> or is open to others.</exception>
    [UnsupportedOSPlatform("windows")]
    internal static void Verify(SafeFileHandle handle, string path, string what, Kind kind)
    {
        if (!OperatingSystem.IsLinux())
        {
            // macOS (compiled, untested): no statx; .NET reports the permission bits of the descriptor but not its owner.
            UnixFileMode mode = File.GetUnixFileMode(handle);
            if (((uint)mode & GroupAndOtherBits) != 0)
            {
                throw new UnauthorizedAccessException(
                    $"The {what} '{path}' has mode {Convert.ToString((int)mode, 8)}, open to other users; IpcKit refuses to use it. Remove it.");
            }

            return;
        }

        Interop.Files.FileStatus? status = Interop.Files.StatHandle(handle, out int errno);
        if (status is null)
        {
            if (errno == Interop.Errno.ENOSYS)
            {
                return;
            }

            throw Interop.GetExceptionForErrno(errno, "inspect", $"the {what} '{path}'", path);
        }

        Check(status.Value, path, what, kind);
    }

    /// <summary>Checks a status read from an opened object (see <see cref="Verify"/>); exposed for callers that already hold one.</summary>
    [UnsupportedOSPlatform("windows")]
    internal static void Check(Interop.Files.FileStatus status, string path, string what, Kind kind)
    {
        uint me = Interop.Files.GetEffectiveUserId();
        uint type = status.Mode & Interop.Files.TypeMask;
        uint expected = kind switch
        {
            Kind.Directory => Interop.Files.TypeDirectory,
            Kind.Socket => TypeSocket,
            _ => TypeRegular,
        };
        if (type != expected)
        {
            throw new UnauthorizedAccessException(
                $"The {what} '{path}' is {DescribeType(type)}, not {DescribeType(expected)} (owner {DescribeUser(status.UserId)}); IpcKit refuses to use it. Remove it if it is not yours: rm '{path}'.");
        }

        if (status.UserId != me)
        {
            throw new UnauthorizedAccessException(
                $"The {what} '{path}' belongs to {DescribeUser(status.UserId)}, not to this user ({DescribeUser(me)}); IpcKit refuses to use an object another user controls. Ask its owner or an administrator to remove it, or use another name.");
        }

        if ((status.Mode & GroupAndOtherBits) != 0)
        {
            string mode = Convert.ToString(status.Mode & 0xFFF, 8);
            throw new UnauthorizedAccessException(
                $"The {what} '{path}' (owner {DescribeUser(status.UserId)}) has mode {mode}, open to other users; IpcKit needs {(kind == Kind.Directory ? "700" : "600")} so nobody else can read or change it. Remove it, or run 'chmod {(kind == Kind.Directory ? "700" : "600")} {path}' if you made it yourself.");
        }
    }

    /// <summary>"user 1000 (alice)", with the name where the password database has it.</summary>
    internal static string DescribeUser(uint uid)
    {
        string id = uid.ToString(CultureInfo.InvariantCulture);
        try
        {
            // getpwuid_r needs a buffer-size dance and NSS; /etc/passwd is what a local account is listed in, and a
            // missing name only makes the message shorter.
            foreach (string line in File.ReadLines("/etc/passwd"))
            {
                string[] fields = line.Split(':');
                if (fields.Length > 2 && fields[2] == id)
                {
                    return $"user {id} ({fields[0]})";
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return $"user {id}";
    }

    [UnsupportedOSPlatform("windows")]
    private static string DescribeType(uint type) => type switch
    {
        Interop.Files.TypeDirectory => "a directory",
        TypeRegular => "a regular file",
        TypeSocket => "a socket",
        0xA000 => "a symbolic link",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        _ => $"of file type 0{Convert.ToString(type >> 12, 8)}",
    };
}
