using System.Runtime.Versioning;
using IpcKit.Gateway.Http;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// Where the gateway leaves its token: a 0600 file written whole (a fresh file renamed into place, so a reader never
/// sees half a token and a file or link planted at the path is replaced, not followed), in a folder no other user can
/// swap files in: the default per-user folder (0700, ours), or a chosen one owned by this user or root and not
/// writable by others unless sticky. Objects of another user are made with chown (root, as in CI).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TokenFileTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [SkippableFact]
    public void The_token_is_written_whole_to_a_0600_file_and_replaces_a_file_or_link_planted_at_the_path()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The token folder is checked with statx on Linux.");
        using var folder = new TempDirectory();
        string path = folder.File("gateway.token");

        Assert.Equal(path, TokenFile.Write(path, "first-token", defaultFolder: false));
        Assert.Equal("first-token\n", File.ReadAllText(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));

        // A link planted at the path is replaced; its target is untouched.
        string target = folder.File("target");
        File.WriteAllText(target, "keep");
        File.Delete(path);
        File.CreateSymbolicLink(path, target);
        TokenFile.Write(path, "second-token", defaultFolder: false);
        Assert.Equal("keep", File.ReadAllText(target));
        Assert.Null(new FileInfo(path).LinkTarget);
        Assert.Equal("second-token\n", File.ReadAllText(path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));

        // Nothing is left beside it (the temporary file was renamed into place).
        Assert.Equal(["gateway.token", "target"], Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        TokenFile.Delete(path, defaultFolder: false);
        Assert.False(File.Exists(path));
        Assert.True(Directory.Exists(folder.Path));
    }

    [SkippableFact]
    public void A_chosen_folder_must_exist_and_be_one_no_other_user_can_swap_files_in()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The token folder is checked with statx on Linux.");
        using var root = new TempDirectory();
        Assert.Throws<DirectoryNotFoundException>(() => TokenFile.Write(Path.Combine(root.Path, "missing", "t.token"), "x", defaultFolder: false));

        string shared = Path.Combine(root.Path, "shared");
        Directory.CreateDirectory(shared);
        foreach (string mode in new[] { "777", "770", "757" })
        {
            File.SetUnixFileMode(shared, (UnixFileMode)Convert.ToInt32(mode, 8));
            var error = Assert.Throws<UnauthorizedAccessException>(() => TokenFile.Write(Path.Combine(shared, "t.token"), "x", defaultFolder: false));
            Assert.Contains($"'{shared}'", error.Message, StringComparison.Ordinal);
            Assert.Contains($"mode {mode}", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(shared, "t.token")));
        }

        // Sticky, like /tmp: nobody can replace another's file there.
        File.SetUnixFileMode(shared, (UnixFileMode)Convert.ToInt32("1777", 8));
        TokenFile.Write(Path.Combine(shared, "t.token"), "x", defaultFolder: false);
        File.SetUnixFileMode(shared, (UnixFileMode)Convert.ToInt32("755", 8));
        TokenFile.Write(Path.Combine(shared, "t.token"), "y", defaultFolder: false);
        Assert.Equal("y\n", File.ReadAllText(Path.Combine(shared, "t.token")));

        string file = root.File("a-file");
        File.WriteAllText(file, "");
        Assert.ThrowsAny<Exception>(() => TokenFile.Write(Path.Combine(file, "t.token"), "x", defaultFolder: false));

        if (Interop.Files.GetEffectiveUserId() == 0)
        {
            string theirs = Path.Combine(root.Path, "theirs");
            Directory.CreateDirectory(theirs, (UnixFileMode)Convert.ToInt32("755", 8));
            FileOwner.Chown(theirs, 4242);
            var error = Assert.Throws<UnauthorizedAccessException>(() => TokenFile.Write(Path.Combine(theirs, "t.token"), "x", defaultFolder: false));
            Assert.Contains("owner user 4242", error.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void In_the_default_folder_the_token_gets_the_socket_folders_check_and_the_folder_goes_when_left_empty()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The token folder is checked with statx on Linux.");
        using var root = new TempDirectory();
        string folder = Path.Combine(root.Path, "ipckit");
        string path = Path.Combine(folder, "gateway-1.token");

        TokenFile.Write(path, "token", defaultFolder: true);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.Equal("token\n", File.ReadAllText(path));

        // Another file there keeps the folder; the last one out removes it.
        string other = Path.Combine(folder, "other.sock");
        File.WriteAllText(other, "");
        TokenFile.Delete(path, defaultFolder: true);
        Assert.True(Directory.Exists(folder));
        TokenFile.Write(path, "token", defaultFolder: true);
        File.Delete(other);
        TokenFile.Delete(path, defaultFolder: true);
        Assert.False(Directory.Exists(folder));

        // A default folder open to others is refused like the socket folder.
        Directory.CreateDirectory(folder, (UnixFileMode)Convert.ToInt32("750", 8));
        var wide = Assert.Throws<UnauthorizedAccessException>(() => TokenFile.Write(path, "token", defaultFolder: true));
        Assert.Contains("has mode 750", wide.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void The_default_path_names_the_port_in_the_per_user_folder()
    {
        Assert.Equal(Path.Combine(TokenFile.DefaultFolder(), "gateway-8123.token"), TokenFile.DefaultPath(8123));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(IpcKit.Pipes.PipeEndpoint.SocketFolder(), TokenFile.DefaultFolder());
        }
    }
}
