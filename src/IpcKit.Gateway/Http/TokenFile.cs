using System.Globalization;
using System.Runtime.Versioning;
using IpcKit.Pipes;

namespace IpcKit.Gateway.Http;

/// <summary>
/// Stores the token where only this user can read it: a 0600 file, by default in the 0700 per-user folder IpcKit keeps
/// its pipe sockets in ($XDG_RUNTIME_DIR/ipckit, else TEMP/ipckit-UID). Written to a fresh file that is renamed into
/// place, so a reader never sees half a token and an existing path (or a link planted there) is replaced, not followed.
/// </summary>
/// <remarks>
/// Trust nothing found at a name: the default folder gets the pipe socket folder's own check (ours, a real directory,
/// mode 0700; else refused, naming the owner), since another user may have made TEMP/ipckit-UID first to read the
/// tokens put in it. A folder given with --token-file must not be one another user controls: owned by this user or
/// root, and not writable by others unless sticky (like /tmp, where nobody can replace another's file). The new file
/// is checked on its descriptor before the token is written to it.
/// </remarks>
internal static class TokenFile
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The folder the token file goes to by default.</summary>
    public static string DefaultFolder() => OperatingSystem.IsWindows()
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "ipckit")
        : PipeEndpoint.SocketFolder();

    public static string DefaultPath(int port) =>
        Path.Combine(DefaultFolder(), string.Create(CultureInfo.InvariantCulture, $"gateway-{port}.token"));

    /// <summary>Writes the token (and a newline) to <paramref name="path"/>; returns the full path.</summary>
    /// <exception cref="UnauthorizedAccessException">The folder belongs to another user, is a symlink or is open to others.</exception>
    public static string Write(string path, string token, bool defaultFolder)
    {
        path = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(path)!;

        // Another IpcKit program may remove the shared folder when it is empty, between our create and our write.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(folder);
                }
                else if (defaultFolder)
                {
                    // Creates it 0700 if needed; refuses a folder of another user, a symlink or a wider mode.
                    PipeEndpoint.EnsureFolder(folder);
                }
                else
                {
                    CheckChosenFolder(folder);
                }

                WriteAtomically(path, token);
                return path;
            }
            catch (DirectoryNotFoundException) when (defaultFolder && attempt < 3)
            {
            }
        }
    }

    /// <summary>Removes the token file and, if it was in the default folder and that is now empty, the folder.</summary>
    public static void Delete(string path, bool defaultFolder)
    {
        try
        {
            File.Delete(path);
            if (defaultFolder)
            {
                Directory.Delete(Path.GetDirectoryName(path)!);
            }
        }
        catch (IOException)
        {
            // The folder still holds sockets or other tokens.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A folder the user chose: it must exist and be one no other user can swap files in.</summary>
    [UnsupportedOSPlatform("windows")]
    private static void CheckChosenFolder(string folder)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        Interop.Files.FileStatus? status = Interop.Files.StatPath(folder, out int errno);
        if (status is not { } value)
        {
            if (errno == Interop.Errno.ENOENT)
            {
                throw new DirectoryNotFoundException($"The folder '{folder}' for the token file does not exist.");
            }

            return;
        }

        const uint StickyBit = 0x200;
        const uint GroupOrOtherWrite = 0b000_010_010;
        uint me = Interop.Files.GetEffectiveUserId();
        if ((value.Mode & Interop.Files.TypeMask) != Interop.Files.TypeDirectory
            || (value.UserId != me && value.UserId != 0)
            || ((value.Mode & GroupOrOtherWrite) != 0 && (value.Mode & StickyBit) == 0))
        {
            throw new UnauthorizedAccessException(
                $"The folder '{folder}' for the token file (owner {OwnerCheck.DescribeUser(value.UserId)}, mode {Convert.ToString(value.Mode & 0xFFF, 8)}) is one another user controls or can swap files in; the gateway needs a folder owned by this user or root, not writable by others unless sticky. Choose another --token-file.");
        }
    }

    private static void WriteAtomically(string path, string token)
    {
        string temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream))
            {
                if (!OperatingSystem.IsWindows())
                {
                    OwnerCheck.Verify(stream.SafeFileHandle, temporary, "token file", OwnerCheck.Kind.RegularFile);
                }

                writer.Write(token);
                writer.Write('\n');
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
