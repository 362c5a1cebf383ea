using System.Globalization;
using IpcKit.Pipes;

namespace IpcKit.Gateway.Http;

/// <summary>
/// Stores the token where only this user can read it: a 0600 file, by default in the 0700 per-user folder IpcKit keeps
/// its pipe sockets in ($XDG_RUNTIME_DIR/ipckit, else TEMP/ipckit-UID). Written to a fresh file that is renamed into
/// place, so a reader never sees half a token and an existing path (or a link planted there) is replaced, not followed.
/// </summary>
internal static class TokenFile
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupAndOther = (UnixFileMode)0b000_111_111;

    /// <summary>The folder the token file goes to by default.</summary>
    public static string DefaultFolder() => OperatingSystem.IsWindows()
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "ipckit")
        : Path.GetDirectoryName(PipeServer.GetPath("gateway"))!;

    public static string DefaultPath(int port) =>
        Path.Combine(DefaultFolder(), string.Create(CultureInfo.InvariantCulture, $"gateway-{port}.token"));

    /// <summary>Writes the token (and a newline) to <paramref name="path"/>; returns the full path.</summary>
    /// <exception cref="UnauthorizedAccessException">The default folder is open to others or is a symlink.</exception>
    public static string Write(string path, string token, bool defaultFolder)
    {
        path = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(path)!;

        // Another IpcKit program may remove the shared folder when it is empty, between our create and our write.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (defaultFolder)
                {
                    EnsurePrivateFolder(folder);
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

    private static void EnsurePrivateFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return;
        }

        // A umask can only remove bits: the folder is never more open than 0700, even while it is created.
        Directory.CreateDirectory(folder, OwnerOnlyFolder);
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null || (info.UnixFileMode & GroupAndOther) != 0)
        {
            throw new UnauthorizedAccessException(
                $"The token folder '{folder}' is a symlink or has mode {Convert.ToString((int)info.UnixFileMode, 8)}; the gateway needs a folder only its owner can enter (0700). Fix it or choose --token-file.");
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
