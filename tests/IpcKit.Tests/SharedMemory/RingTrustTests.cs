using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.SharedMemory;

/// <summary>
/// Nothing found at a ring's name is trusted (docs/reliability.md, "Local attacker"): a file planted by another user,
/// a world-writable file, a symbolic link or a FIFO is refused by every verb before a byte of it is read; a ring file
/// truncated under attached processes is an <see cref="IpcCorruptionException"/>, not SIGBUS; a full /dev/shm fails
/// at create and leaves nothing; the longest valid name works with every verb.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RingTrustTests : RingTestBase
{
    [SkippableFact]
    public async Task A_ring_file_another_user_made_is_refused_by_every_verb_and_left_alone()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The second local user is a Linux test.");
        OtherUser.Require();
        string name = NewName();
        string path = IpcName.GetRingPath(name);
        try
        {
            // The squatter makes a real ring, then opens it to everyone: all that changes for us is who owns it.
            Assert.Equal(0, await OtherUser.RunAsync("dotnet", "exec", Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll"), "ring", "create", name, "--capacity", "4096"));
            AssertRefusedEverywhere(name, path, "belongs to user 65534");
            Assert.Equal(0, await OtherUser.RunAsync("/bin/chmod", "666", path));
            AssertRefusedEverywhere(name, path, "belongs to user 65534");

            using ChildProcess produce = ChildProcess.StartCli("ring", "produce", name, "--count", "1");
            await produce.AssertExitCodeAsync(5);
            Assert.Contains("belongs to user 65534", produce.StandardError, StringComparison.Ordinal);
            Assert.Contains(path, produce.StandardError, StringComparison.Ordinal);
            Assert.True(File.Exists(path), "The other user's file must not be removed.");
        }
        finally
        {
            // As its owner (ipckit itself refuses a world-writable ring, even its owner's).
            await OtherUser.RunAsync("/bin/sh", "-c", $"rm -f /dev/shm/ipckit.ring.{name} /dev/shm/sem.ipckit.{name}~*");
        }
    }

    [SkippableFact]
    public void A_ring_file_open_to_others_is_refused_and_the_message_names_the_chmod()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "File modes and the owner check are tested on Linux.");
        string name = CreateRing();
        string path = IpcName.GetRingPath(name);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("666", 8));

        var refused = Assert.Throws<UnauthorizedAccessException>(() => RingWriter.Attach(name));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains("mode 666", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {path}", refused.Message, StringComparison.Ordinal);
        Assert.Throws<UnauthorizedAccessException>(() => RingReader.Attach(name));
        Assert.Throws<UnauthorizedAccessException>(() => RingBuffer.Inspect(name));
        Assert.Throws<UnauthorizedAccessException>(() => RingBuffer.Delete(name));
        Assert.True(File.Exists(path));

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using RingWriter writer = RingWriter.Attach(name);
    }

    [SkippableFact]
    public void A_symbolic_link_or_a_fifo_at_the_name_is_refused_without_following_or_blocking()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "O_NOFOLLOW and FIFOs are tested on Linux.");
        using var temp = new TempDirectory();
        string secret = temp.File("private");
        File.WriteAllBytes(secret, "SECRET-BYTES-0123456789"u8.ToArray());
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        string link = NewName();
        File.CreateSymbolicLink(IpcName.GetRingPath(link), secret);
        var linked = Assert.Throws<UnauthorizedAccessException>(() => RingReader.Attach(link));
        Assert.Contains("symbolic link", linked.Message, StringComparison.Ordinal);
        Assert.Throws<UnauthorizedAccessException>(() => RingBuffer.Inspect(link));
        Assert.Throws<IpcAlreadyExistsException>(() => RingBuffer.Create(link));
        File.Delete(IpcName.GetRingPath(link));
        Assert.Equal("SECRET-BYTES-0123456789", File.ReadAllText(secret));

        string fifo = NewName();
        using (Process mkfifo = Process.Start("mkfifo", ["-m", "600", IpcName.GetRingPath(fifo)]))
        {
            Assert.True(mkfifo.WaitForExit(TestTimeouts.Unexpected) && mkfifo.ExitCode == 0, "mkfifo failed");
        }

        var piped = Assert.Throws<UnauthorizedAccessException>(() => RingWriter.Attach(fifo));
        Assert.Contains("a FIFO", piped.Message, StringComparison.Ordinal);
        File.Delete(IpcName.GetRingPath(fifo));
    }

    [SkippableFact]
    public void A_file_that_is_not_a_ring_is_refused_without_showing_its_bytes()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Written with a Linux file mode.");
        string name = NewName();
        byte[] content = new byte[8192];
        "SECRETXX"u8.CopyTo(content);
        File.WriteAllBytes(IpcName.GetRingPath(name), content);
        File.SetUnixFileMode(IpcName.GetRingPath(name), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var refused = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("not an IpcKit ring", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETXX", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("5358585445524345", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("53454352", refused.Message, StringComparison.OrdinalIgnoreCase);
    }

    [SkippableTheory]
    [InlineData("reader")]
    [InlineData("writer")]
    public async Task A_ring_truncated_under_a_waiting_process_ends_it_with_corruption_not_SIGBUS(string role)
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Truncation under a mapping is SIGBUS on Linux.");
        string name = CreateRing(4096);
        using ChildProcess child = role == "reader"
            ? ChildProcess.StartCli("ring", "consume", name, "--count", "1", "--wait", "blocking")
            : ChildProcess.StartCli("ring", "produce", name, "--count", "1000", "--size", "100", "--wait", "blocking");

        // Wait (polling with a deadline) until the child sleeps: its sleeping flag is set and its main thread is inside
        // the semaphore's futex wait, where it touches nothing of the mapping until it wakes.
        await WaitUntilAsleepAsync(child, name, role == "reader" ? RingLayout.ReaderSleepingOffset : RingLayout.WriterSleepingOffset);
        using (var file = new FileStream(IpcName.GetRingPath(name), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.SetLength(0);
        }

        await child.AssertExitCodeAsync(4);
        Assert.Contains("truncated to 0 bytes", child.StandardError, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Attaching_to_a_ring_that_was_truncated_is_refused_as_corruption()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Written for /dev/shm.");
        string name = CreateRing(8192);
        using (var file = new FileStream(IpcName.GetRingPath(name), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.SetLength(4096 + 4096);
        }

        var refused = Assert.Throws<IpcCorruptionException>(() => RingReader.Attach(name));
        Assert.Contains("8192 bytes", refused.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_full_dev_shm_fails_at_create_with_needed_and_free_and_leaves_nothing()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "A private mount namespace is a Linux test.");
        Requires.That(Interop.Files.GetEffectiveUserId() == 0 && Requires.IsOnPath("unshare"),
            "root and unshare(1): the test mounts a 1 MiB tmpfs on /dev/shm in a private mount namespace");
        string cli = Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll");

        // In its own mount namespace, with a 1 MiB /dev/shm: a ring that does not fit, then one that does and is filled.
        string script = string.Join("; ",
            "mount -t tmpfs -o size=1M tmpfs /dev/shm || exit 99",
            $"dotnet exec '{cli}' ring create big --capacity 2097152; echo \"BIG $?\"",
            "echo \"LEFT $(ls -A /dev/shm | wc -l)\"",
            $"dotnet exec '{cli}' ring create fits --capacity 524288; echo \"FITS $?\"",
            $"dotnet exec '{cli}' ring produce fits --count 20000 --size 200 --timeout 0 >/dev/null 2>&1; echo \"PRODUCE $?\"",
            $"dotnet exec '{cli}' ring create second --capacity 524288; echo \"SECOND $?\"",
            "echo \"AFTER $(ls -A /dev/shm | tr '\\n' ' ')\"");
        using ChildProcess shell = ChildProcess.StartProgram("unshare", ["-m", "--propagation", "private", "--", "sh", "-c", script]);
        await shell.AssertExitCodeAsync(0);

        Assert.Equal("BIG 5", await shell.WaitForLineAsync("BIG"));
        Assert.Contains("needs 2101248 bytes", shell.StandardError, StringComparison.Ordinal);
        Assert.Contains("bytes free", shell.StandardError, StringComparison.Ordinal);
        Assert.Equal("LEFT 0", await shell.WaitForLineAsync("LEFT"));
        Assert.Equal("FITS 0", await shell.WaitForLineAsync("FITS"));

        // The producer fills the ring (exit 1: no room within 0 ms, no reader) instead of dying of SIGBUS (134).
        Assert.Equal("PRODUCE 1", await shell.WaitForLineAsync("PRODUCE"));
        Assert.Equal("SECOND 5", await shell.WaitForLineAsync("SECOND"));
        Assert.Equal("AFTER ipckit.ring.fits sem.ipckit.fits~rd sem.ipckit.fits~rs ", await shell.WaitForLineAsync("AFTER"));
    }

    [Fact]
    public void The_longest_valid_name_works_with_every_verb_and_delete_leaves_nothing()
    {
        string name = UniqueName.Next("long");
        name += new string('n', IpcName.MaxRingNameLength - name.Length);
        Assert.Equal(IpcName.MaxRingNameLength, name.Length);
        try
        {
            RingBuffer.Create(name, new RingOptions { Capacity = 4096 });
            Assert.True(RingBuffer.Exists(name));
            using (RingWriter writer = RingWriter.Attach(name))
            using (RingReader reader = RingReader.Attach(name))
            {
                Assert.True(writer.TrySendRaw([1, 2, 3]));
                byte[] buffer = new byte[8];
                Assert.True(reader.TryRead(buffer, out int length, out _));
                Assert.Equal(3, length);
                Assert.True(RingBuffer.Inspect(name).ReaderAlive);
                Assert.False(RingBuffer.IsAbandoned(name));
            }

            Assert.True(RingBuffer.Delete(name));
            Assert.False(RingBuffer.Exists(name));
            if (OperatingSystem.IsLinux())
            {
                Assert.Empty(Directory.GetFiles("/dev/shm", $"*{name[..30]}*"));
            }

            RingBuffer.Create(name, new RingOptions { Capacity = 4096, ReclaimAbandoned = true });
            RingBuffer.Create(name, new RingOptions { Capacity = 4096, ReclaimAbandoned = true });
        }
        finally
        {
            RingBuffer.Delete(name);
        }

        Assert.Throws<ArgumentException>(() => RingBuffer.Create(name + "n"));
    }

    private static async Task WaitUntilAsleepAsync(ChildProcess child, string name, int sleepingOffset)
    {
        // futex(2): the system call number a thread blocked in sem_timedwait/sem_clockwait reports in /proc.
        string futex = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "98 " : "202 ";
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            bool flagged;
            using (var raw = new RawRing(name))
            {
                flagged = raw.ReadInt32(sleepingOffset) == 1;
            }

            string syscall = "";
            try
            {
                syscall = File.ReadAllText($"/proc/{child.Id}/task/{child.Id}/syscall");
            }
            catch (IOException)
            {
            }

            if (flagged && syscall.StartsWith(futex, StringComparison.Ordinal))
            {
                return;
            }

            Assert.True(deadline.Elapsed < TestTimeouts.Unexpected, "The child never went to sleep: " + child.Describe());
            await Task.Delay(10);
        }
    }

    private static void AssertRefusedEverywhere(string name, string path, string expected)
    {
        foreach (Action verb in new Action[]
        {
            () => RingWriter.Attach(name).Dispose(),
            () => RingReader.Attach(name).Dispose(),
            () => RingBuffer.Inspect(name),
            () => RingBuffer.Delete(name),
            () => RingBuffer.IsAbandoned(name),
            () => RingBuffer.Create(name, new RingOptions { ReclaimAbandoned = true }),
        })
        {
            var refused = Assert.Throws<UnauthorizedAccessException>(verb);
            Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
            Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        }

        Assert.True(File.Exists(path));
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{OtherUser.Uid}"), GetOwner(path));
    }

    private static string GetOwner(string path)
    {
        Interop.Files.FileStatus? status = Interop.Files.StatPath(path, out _);
        return status?.UserId.ToString(CultureInfo.InvariantCulture) ?? "";
    }
}
