using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.Versioning;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>
/// What is found at a lock's name is checked before it is used: the folder and the file must be ours, the file 0600 and
/// regular (never reached through a symlink), and its contents a lock file; an unfinished one is made again.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NamedLockOwnershipTests : IDisposable
{
    private readonly List<string> _paths = [];
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        foreach (string path in _paths)
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path);
            }
            else
            {
                UserFolder.Delete(path);
            }
        }

        _temp.Dispose();
    }

    [SkippableFact]
    public async Task A_lock_file_that_belongs_to_another_user_is_refused_naming_the_owner()
    {
        OtherUser.Require();
        string name = UniqueName.Next("own");
        string path = Plant(name, at => File.WriteAllBytes(at, []));
        await RunAsRootAsync("/bin/chown", OtherUser.Uid.ToString(CultureInfo.InvariantCulture), path);

        var refused = Assert.Throws<UnauthorizedAccessException>(() => new NamedLock(name));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"user {OtherUser.Uid}", refused.Message, StringComparison.Ordinal);
        Assert.Throws<UnauthorizedAccessException>(() => NamedLock.GetInfo(name));
    }

    [SkippableFact]
    public void A_lock_file_open_to_others_is_refused_with_the_mode()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Owner checks on a descriptor need statx (Linux).");
        string name = UniqueName.Next("own");
        string path = Plant(name, at =>
        {
            File.WriteAllBytes(at, []);
            File.SetUnixFileMode(at, (UnixFileMode)0b110_100_100);
        });

        using var log = new LogCapture();
        var refused = Assert.Throws<UnauthorizedAccessException>(() => new NamedLock(name, new NamedLockOptions { LoggerFactory = log }));
        Assert.Contains("644", refused.Message, StringComparison.Ordinal);
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains(log.Entries, entry => entry.EventId == 3001 && entry.Message.Contains(path, StringComparison.Ordinal));
    }

    [SkippableFact]
    public void A_symlink_or_a_folder_at_the_name_is_refused_and_the_target_untouched()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "O_NOFOLLOW and owner checks (Linux).");
        string name = UniqueName.Next("own");
        string target = _temp.File("target");
        File.WriteAllText(target, "precious");
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string path = Plant(name, at => File.CreateSymbolicLink(at, target));

        var link = Assert.Throws<UnauthorizedAccessException>(() => new NamedLock(name));
        Assert.Contains("symbolic link", link.Message, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(target));

        File.Delete(path);
        Plant(name, at => Directory.CreateDirectory(at));
        Assert.ThrowsAny<IOException>(() => new NamedLock(name));
    }

    [SkippableFact]
    public void A_file_that_is_not_a_lock_file_is_corruption_and_its_contents_are_not_echoed()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files checked on Linux.");
        string name = UniqueName.Next("own");
        Plant(name, at => WritePrivate(at, "SECRET-CONTENTS-0123456789-abcdefghijklmnopqrstuvwxyz-SECRET-CONTENTS-0123456789"u8.ToArray()));

        var corrupt = Assert.Throws<IpcCorruptionException>(() => new NamedLock(name));
        Assert.Contains("not an IpcKit lock file", corrupt.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", corrupt.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(0, 64, "claims 0 leases")]
    [InlineData(1025, 64, "claims 1025 leases")]
    [InlineData(4, 64, "too short for its 4 leases")]
    [InlineData(4, 64 + (4 * 16) - 1, "too short for its 4 leases")]
    public void A_header_that_claims_more_than_the_file_holds_is_corruption(int leases, int length, string expected)
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files checked on Linux.");
        string name = UniqueName.Next("own");
        byte[] header = new byte[length];
        BinaryPrimitives.WriteUInt64LittleEndian(header, 0x4B434F4C4B435049);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), 1);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), leases);
        Plant(name, at => WritePrivate(at, header));

        var corrupt = Assert.Throws<IpcCorruptionException>(() => new NamedLock(name));
        Assert.Contains(expected, corrupt.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_lock_file_of_another_format_version_is_refused_naming_both_versions()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files checked on Linux.");
        string name = UniqueName.Next("own");
        byte[] header = new byte[LockFileLayout.FileLength(1)];
        BinaryPrimitives.WriteUInt64LittleEndian(header, LockFileLayout.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(LockFileLayout.VersionOffset), LockFileLayout.Version + 1);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(LockFileLayout.LeasesOffset), 1);
        Plant(name, at => WritePrivate(at, header));

        var refused = Assert.Throws<IpcCorruptionException>(() => new NamedLock(name));
        Assert.Contains($"format version {LockFileLayout.Version + 1}", refused.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_file_its_creator_left_unfinished_is_made_again()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files checked on Linux.");
        string name = UniqueName.Next("own");
        // A creator killed after sizing the file, before the magic: everything but the magic may be there.
        byte[] unfinished = new byte[80];
        BinaryPrimitives.WriteInt32LittleEndian(unfinished.AsSpan(12), 7);
        unfinished[70] = 0x55;
        string path = Plant(name, at => WritePrivate(at, unfinished));

        using (var named = new NamedLock(name))
        using (LockLease lease = named.Acquire())
        {
            Assert.Equal(1, named.Leases);
            Assert.False(lease.Abandoned);
        }

        Assert.False(File.Exists(path));
    }

    [SkippableFact]
    public async Task A_user_folder_that_belongs_to_another_user_is_refused()
    {
        OtherUser.Require();

        // XDG_RUNTIME_DIR (ours, 0700) holding an ipckit folder someone else made: what a squatter would try.
        string runtime = _temp.File("runtime");
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string folder = Path.Combine(runtime, "ipckit");
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await RunAsRootAsync("/bin/chown", OtherUser.Uid.ToString(CultureInfo.InvariantCulture), folder);

        using ChildProcess cli = ChildProcess.StartDll(
            "IpcKit.Cli.dll", ["lock", "run", UniqueName.Next("own"), "--", "/bin/true"], new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime });
        await cli.AssertExitCodeAsync(5);
        Assert.Contains(folder, cli.StandardError, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    private static async Task RunAsRootAsync(string program, params string[] arguments)
    {
        using ChildProcess child = ChildProcess.StartProgram(program, arguments);
        await child.AssertExitCodeAsync(0);
    }

    /// <summary>
    /// Puts something at the lock's path. The user folder is shared with pipe servers, which remove it when it is empty,
    /// so it may vanish between making it and writing into it: try again (a bounded number of times).
    /// </summary>
    private string Plant(string name, Action<string> create)
    {
        string path = IpcName.GetLockPath(name);
        _paths.Add(path);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                create(path);
                return path;
            }
            catch (DirectoryNotFoundException) when (attempt < 20)
            {
            }
        }
    }

    private static void WritePrivate(string path, byte[] bytes)
    {
        using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        file.Write(bytes);
    }
}
