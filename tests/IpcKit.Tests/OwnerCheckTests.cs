using System.Globalization;
using System.Runtime.Versioning;
using IpcKit.Pipes;

namespace IpcKit.Tests;

/// <summary>
/// "Trust nothing found at a name", in this process and at each edge: an object opened by name must be ours, of the
/// expected kind and closed to group and others; the socket folder is created 0700 and refused when it is another
/// user's, wider or a symlink; XDG_RUNTIME_DIR is used only when it is an absolute path to a folder of ours nobody else
/// can write to. Refusals name the path and the owner. Objects of another user are made with chown (root, as in CI).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class OwnerCheckTests
{
    private const int OtherUser = 4242;

    [SkippableFact]
    public void A_user_is_described_by_id_and_by_name_where_the_password_database_has_one()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The owner check reads the owner with statx on Linux.");
        Assert.Equal("user 0 (root)", OwnerCheck.DescribeUser(0));
        Assert.Equal("user 3999999", OwnerCheck.DescribeUser(3999999));
        string? line = File.ReadLines("/etc/passwd").FirstOrDefault(l => l.Split(':') is { Length: > 2 } f && f[2] != "0");
        if (line is not null)
        {
            string[] fields = line.Split(':');
            Assert.Equal($"user {fields[2]} ({fields[0]})", OwnerCheck.DescribeUser(uint.Parse(fields[2], CultureInfo.InvariantCulture)));
        }
    }

    [SkippableFact]
    public void A_file_of_ours_with_mode_600_passes_and_any_group_or_other_bit_or_another_kind_is_refused_naming_it()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The owner check reads the owner with statx on Linux.");
        using var folder = new TempDirectory();
        string path = folder.File("object");
        File.WriteAllBytes(path, [1]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Verify(path, OwnerCheck.Kind.RegularFile);

        foreach (UnixFileMode extra in new[] { UnixFileMode.OtherRead, UnixFileMode.OtherExecute, UnixFileMode.GroupWrite, UnixFileMode.GroupExecute })
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
            var open = Assert.Throws<UnauthorizedAccessException>(() => Verify(path, OwnerCheck.Kind.RegularFile));
            Assert.Contains($"'{path}'", open.Message, StringComparison.Ordinal);
            Assert.Contains("open to other users", open.Message, StringComparison.Ordinal);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var kind = Assert.Throws<UnauthorizedAccessException>(() => Verify(path, OwnerCheck.Kind.Socket));
        Assert.Contains("is a regular file, not a socket", kind.Message, StringComparison.Ordinal);
        Assert.Contains("is a regular file, not a directory", Assert.Throws<UnauthorizedAccessException>(() => Verify(path, OwnerCheck.Kind.Directory)).Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_file_of_another_user_is_refused_naming_the_owner_even_with_mode_600()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The owner check reads the owner with statx on Linux.");
        Requires.That(Interop.Files.GetEffectiveUserId() == 0, "root, to give a file to another user (CI runs as root)");
        using var folder = new TempDirectory();
        string path = folder.File("theirs");
        File.WriteAllBytes(path, [1]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        FileOwner.Chown(path, OtherUser);

        var error = Assert.Throws<UnauthorizedAccessException>(() => Verify(path, OwnerCheck.Kind.RegularFile));
        Assert.Contains($"'{path}' belongs to user {OtherUser}", error.Message, StringComparison.Ordinal);
        Assert.Contains("not to this user (user 0", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void The_socket_folder_is_created_700_and_refused_when_wider_a_symlink_or_another_users()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The socket folder is checked with statx on Linux.");
        using var root = new TempDirectory();
        string folder = Path.Combine(root.Path, "sockets");
        PipeEndpoint.EnsureFolder(folder);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        PipeEndpoint.EnsureFolder(folder);

        File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | UnixFileMode.GroupExecute);
        var wide = Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(folder));
        Assert.Contains($"'{folder}' has mode 710", wide.Message, StringComparison.Ordinal);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        string link = Path.Combine(root.Path, "link");
        Directory.CreateSymbolicLink(link, folder);
        Assert.Contains("is not a directory", Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(link)).Message, StringComparison.Ordinal);

        if (Interop.Files.GetEffectiveUserId() == 0)
        {
            FileOwner.Chown(folder, OtherUser);
            var theirs = Assert.Throws<UnauthorizedAccessException>(() => PipeEndpoint.EnsureFolder(folder));
            Assert.Contains($"belongs to user {OtherUser}, not to this user (0)", theirs.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void The_runtime_folder_is_used_only_when_absolute_ours_and_not_writable_by_others()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The runtime folder is checked with statx on Linux.");
        string fallback = Path.Combine(Path.GetFullPath(Path.GetTempPath()), "ipckit-" + Interop.Files.GetEffectiveUserId().ToString(CultureInfo.InvariantCulture));
        using var root = new TempDirectory();
        string runtime = Path.Combine(root.Path, "run");
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Equal(Path.Combine(runtime, "ipckit"), PipeEndpoint.SocketFolder(runtime));
        Assert.Equal(fallback, PipeEndpoint.SocketFolder(null));
        Assert.Equal(fallback, PipeEndpoint.SocketFolder(""));
        Assert.Equal(fallback, PipeEndpoint.SocketFolder(Path.GetRelativePath(Environment.CurrentDirectory, runtime)));
        Assert.Equal(fallback, PipeEndpoint.SocketFolder(Path.Combine(root.Path, "missing")));

        string file = root.File("a-file");
        File.WriteAllBytes(file, []);
        Assert.Equal(fallback, PipeEndpoint.SocketFolder(file));

        // Others may read and enter it (systemd's is 0700, but 0755 lets nobody swap our files); never write to it.
        File.SetUnixFileMode(runtime, (UnixFileMode)Convert.ToInt32("755", 8));
        Assert.Equal(Path.Combine(runtime, "ipckit"), PipeEndpoint.SocketFolder(runtime));
        foreach (string mode in new[] { "720", "702", "777" })
        {
            File.SetUnixFileMode(runtime, (UnixFileMode)Convert.ToInt32(mode, 8));
            Assert.Equal(fallback, PipeEndpoint.SocketFolder(runtime));
        }

        File.SetUnixFileMode(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (Interop.Files.GetEffectiveUserId() == 0)
        {
            FileOwner.Chown(runtime, OtherUser);
            Assert.Equal(fallback, PipeEndpoint.SocketFolder(runtime));
        }
    }

    private static void Verify(string path, OwnerCheck.Kind kind)
    {
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle(path);
        OwnerCheck.Verify(handle, path, "test object", kind);
    }
}
