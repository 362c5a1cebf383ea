using System.Runtime.Versioning;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>
/// What another local user (or a stray file) at a semaphore's name can do: nothing. A semaphore found at the name is
/// checked on the opened descriptor (owner, mode, kind, size) and refused if it is not ours; creating never spins on
/// another user's companion and never leaves a temporary file behind.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NamedSemaphoreOwnershipTests : IDisposable
{
    private readonly List<string> _paths = [];

    public void Dispose()
    {
        foreach (string path in _paths)
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public async Task A_semaphore_another_user_planted_world_writable_with_count_5_is_refused_not_adopted()
    {
        OtherUser.Require();
        string name = UniqueName.Next("squat");
        string path = Track(IpcName.GetSemaphorePath(name)!);
        Track(path + "~free");
        using (ChildProcess create = OtherUser.StartCli("sem", "create", name, "--initial", "5", "--max", "5"))
        {
            await create.AssertExitCodeAsync(0);
        }

        Assert.Equal(0, await OtherUser.RunAsync("/bin/chmod", "666", path, path + "~free"));

        var refused = Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.CreateOrOpen(name, 1, 1, out _));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"user {OtherUser.Uid}", refused.Message, StringComparison.Ordinal);
        Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Open(name));

        // Mode 0600 does not make it ours either.
        Assert.Equal(0, await OtherUser.RunAsync("/bin/chmod", "600", path, path + "~free"));
        Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Open(name));
    }

    [SkippableFact]
    public async Task The_rings_wake_up_semaphores_are_checked_too()
    {
        OtherUser.Require();
        string name = UniqueName.Next("squat") + "~rd";
        NamedSemaphore.CreateInternal(name).Dispose();
        string path = Track(IpcName.SemaphoreFilePath(name));
        using (NamedSemaphore.OpenInternal(name))
        {
        }

        await RunAsRootAsync("/bin/chown", OtherUser.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path);
        var refused = Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.OpenInternal(name));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_semaphore_of_ours_open_to_others_is_refused_with_the_mode_and_the_fix()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Semaphore files exist on Linux only.");
        string name = UniqueName.Next("mode");
        using (NamedSemaphore.Create(name, 1, 1))
        {
        }

        string path = Track(IpcName.GetSemaphorePath(name)!);
        Track(path + "~free");
        File.SetUnixFileMode(path, (UnixFileMode)0b110_110_110);
        var refused = Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Open(name));
        Assert.Contains("666", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {path}", refused.Message, StringComparison.Ordinal);

        // Group-readable is open to others too.
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_000);
        Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Open(name));
        File.SetUnixFileMode(path, (UnixFileMode)0b110_000_000);
        using NamedSemaphore opened = NamedSemaphore.Open(name);
        Assert.True(opened.TryWait());
    }

    [SkippableFact]
    public void A_symlink_or_a_file_of_the_wrong_size_at_the_name_is_refused()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Semaphore files exist on Linux only.");
        string name = UniqueName.Next("link");
        string path = Track(IpcName.GetSemaphorePath(name)!);
        string target = Track(Path.Combine("/dev/shm", $"ipckit-test-target-{Guid.NewGuid():N}"));
        File.WriteAllBytes(target, new byte[32]);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(path, target);

        var link = Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Open(name));
        Assert.Contains("symbolic link", link.Message, StringComparison.Ordinal);
        Assert.All(File.ReadAllBytes(target), b => Assert.Equal(0, b));

        File.Delete(path);
        File.WriteAllBytes(path, new byte[5]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var size = Assert.Throws<IpcCorruptionException>(() => NamedSemaphore.Open(name));
        Assert.Contains("5 bytes", size.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Create_refuses_at_once_when_another_user_owns_the_companion_and_leaves_nothing()
    {
        OtherUser.Require();
        string name = UniqueName.Next("free");
        string path = Track(IpcName.GetSemaphorePath(name)!);
        string companion = Track(path + "~free");
        Assert.Equal(0, await OtherUser.RunAsync("/usr/bin/touch", companion));

        var refused = Assert.Throws<UnauthorizedAccessException>(() => NamedSemaphore.Create(name, 0, 1));
        Assert.Contains(companion, refused.Message, StringComparison.Ordinal);
        Assert.Contains($"user {OtherUser.Uid}", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path), "The semaphore half of a failed create was left behind.");
        Assert.True(File.Exists(companion), "Another user's file is not ours to remove.");
    }

    [SkippableFact]
    public async Task Sem_create_as_a_user_who_cannot_remove_the_companion_fails_without_spinning_or_leaving_temporaries()
    {
        OtherUser.Require();
        string name = UniqueName.Next("free");
        string path = Track(IpcName.GetSemaphorePath(name)!);
        string companion = Track(path + "~free");
        File.WriteAllText(companion, "not a semaphore of the other user");
        HashSet<string> before = Temporaries();

        // /dev/shm is sticky: the other user cannot unlink root's file. v0.1 retried that unlink forever.
        using ChildProcess create = OtherUser.StartCli("sem", "create", name);
        await create.AssertExitCodeAsync(5);
        Assert.Contains(companion, create.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(path), "The semaphore half of a failed create was left behind.");
        Assert.Empty(Temporaries().Except(before));
    }

    [SkippableFact]
    public async Task A_creator_killed_at_any_moment_leaves_no_temporary_file()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Semaphore files exist on Linux only.");
        string name = UniqueName.Next("churn");
        Track(IpcName.GetSemaphorePath(name)!);
        Track(IpcName.GetSemaphorePath(name)! + "~free");
        HashSet<string> before = Temporaries();
        for (int kill = 0; kill < 3; kill++)
        {
            using ChildProcess churn = ChildProcess.Start("sem-churn", name);
            await churn.ReadyAsync();
            churn.Kill();
            await churn.WaitForExitAsync();
        }

        // glibc's sem_open creates sem.XXXXXX and renames it in; IpcKit links in an unnamed O_TMPFILE instead.
        Assert.Empty(Temporaries().Except(before));
        NamedSemaphore.Delete(name);
    }

    /// <summary>glibc's temporary semaphore files: /dev/shm/sem. plus six random characters.</summary>
    private static HashSet<string> Temporaries() =>
        Directory.Exists("/dev/shm")
            ? [.. Directory.GetFiles("/dev/shm", "sem.??????").Where(path => Path.GetFileName(path).Length == 10)]
            : [];

    private static async Task RunAsRootAsync(string program, params string[] arguments)
    {
        using ChildProcess child = ChildProcess.StartProgram(program, arguments);
        await child.AssertExitCodeAsync(0);
    }

    private string Track(string path)
    {
        _paths.Add(path);
        return path;
    }
}
