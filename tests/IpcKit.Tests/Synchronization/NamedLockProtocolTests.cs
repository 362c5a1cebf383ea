using System.Buffers.Binary;
using System.Runtime.Versioning;
using IpcKit.Synchronization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace IpcKit.Tests.Synchronization;

/// <summary>
/// The lock file's protocols at their edges, on LockFile itself: a sleeper is woken by a release (futex) and by a holder's
/// death (inotify close event) with its dead-holder check out of the way, so that only the wake-up under test can end the
/// sleep; an opener that finds the file it opened unlinked by the last user starts over; and a byte lock another process
/// never gives back ends the open after a bound instead of hanging it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NamedLockProtocolTests
{
    /// <summary>Longer than any deadline of these tests: a sleep only a wake-up can end.</summary>
    private static readonly int s_longSleepMilliseconds = (int)(2 * TestTimeouts.Unexpected.TotalMilliseconds);

    [SkippableFact]
    public void Users_closing_at_the_same_moment_do_not_all_leave_the_file()
    {
        // Each closer converts its share of the lifecycle byte to exclusive; two at once each see the other's share.
        // Whoever fails must try again after dropping its own, or both leave the file behind.
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files are removed by their last user on Linux.");
        const int Users = 4;
        const int Rounds = 300;
        string name = UniqueName.Next("close");
        string path = IpcName.GetLockPath(name);
        using var together = new Barrier(Users);
        int left = 0;
        Parallel.For(0, Users, new ParallelOptions { MaxDegreeOfParallelism = Users }, user =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                LockFile file = LockFile.Open(name, 1, NullLogger.Instance);
                Assert.True(together.SignalAndWait(TestTimeouts.Unexpected));
                file.Dispose();
                Assert.True(together.SignalAndWait(TestTimeouts.Unexpected));
                if (user == 0 && File.Exists(path))
                {
                    left++;
                    File.Delete(path);
                }

                Assert.True(together.SignalAndWait(TestTimeouts.Unexpected));
            }
        });

        Assert.Equal(0, left);
    }

    [SkippableFact]
    public async Task A_release_wakes_a_sleeping_waiter_through_the_futex()
    {
        RequireFutex();
        string name = UniqueName.Next("wake");
        using LockFile holder = LockFile.Open(name, 1, NullLogger.Instance);
        using LockFile waiter = LockFile.Open(name, 1, NullLogger.Instance);
        Assert.True(holder.TryTake(0, out _));
        int observed = waiter.WakeSequence;
        Assert.False(waiter.TryTake(0, out _));

        Task sleeping = Task.Factory.StartNew(() => waiter.Sleep(observed, s_longSleepMilliseconds), TaskCreationOptions.LongRunning);
        await SleeperCountedAsync(holder, sleeping);
        holder.Give(0);
        holder.WakeWaiters();

        await sleeping.WaitAsync(TestTimeouts.Unexpected);
        Assert.True(waiter.TryTake(0, out int previousHolder));
        Assert.Equal(0, previousHolder);
        waiter.Give(0);
    }

    [SkippableFact]
    public async Task A_holder_killed_with_SIGKILL_wakes_a_sleeping_waiter_through_its_close_event()
    {
        RequireFutex();
        string name = UniqueName.Next("wake");
        using ChildProcess holder = ChildProcess.Start("lock-hold", name);
        await holder.WaitForLineAsync("HELD");
        using LockFile waiter = LockFile.Open(name, 1, NullLogger.Instance);
        int observed = waiter.WakeSequence;
        Assert.False(waiter.TryTake(0, out _));

        Task sleeping = Task.Factory.StartNew(() => waiter.Sleep(observed, s_longSleepMilliseconds), TaskCreationOptions.LongRunning);
        await SleeperCountedAsync(waiter, sleeping);
        holder.Kill();

        // The dead holder bumps no futex: only the close of its file, seen through inotify, can end this sleep.
        await sleeping.WaitAsync(TestTimeouts.Unexpected);
        await holder.WaitForExitAsync();
        Assert.True(waiter.TryTake(0, out int previousHolder));
        Assert.Equal(holder.Id, previousHolder);
        waiter.Give(0);
    }

    [SkippableFact]
    public async Task An_opener_whose_file_the_last_user_unlinked_meanwhile_starts_over_on_the_new_file()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files are removed by their last user on Linux.");
        string name = UniqueName.Next("race");
        string path = PlantLockFile(name);

        // A last user between its exclusive lifecycle lock and its unlink: the opener opens the file, then waits for the byte.
        Task<NamedLock> opening;
        SafeFileHandle closer = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            Assert.True(Interop.FileLocks.TryLock(closer, LockFileLayout.LifecycleByte, shared: false));
            opening = Task.Factory.StartNew(() => new NamedLock(name), TaskCreationOptions.LongRunning);
            await OpenedTwiceAsync(path, opening);
            File.Delete(path);
        }
        finally
        {
            closer.Dispose();
        }

        using NamedLock opened = await opening.WaitAsync(TestTimeouts.Unexpected);
        Assert.True(File.Exists(path), "The opener kept the unlinked file instead of making the name again.");
        using LockLease lease = opened.Acquire(TimeSpan.Zero);
        using var newcomer = new NamedLock(name);
        Assert.False(newcomer.TryAcquire(out _), "The opener and a newcomer use different files, so both could take the lock.");
    }

    [SkippableFact]
    public async Task An_opener_gives_up_on_a_byte_another_process_never_gives_back_naming_the_file()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Open-file-description locks (Linux).");
        string name = UniqueName.Next("stuck");
        string path = PlantLockFile(name);
        try
        {
            using SafeFileHandle squatter = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            Assert.True(Interop.FileLocks.TryLock(squatter, LockFileLayout.LifecycleByte, shared: false));

            var refused = await Assert.ThrowsAsync<IpcException>(() => Task.Run(() => new NamedLock(name)).WaitAsync(TestTimeouts.Unexpected));
            Assert.Contains(path, refused.Message, StringComparison.Ordinal);
            Assert.Contains("misbehaving", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            UserFolder.Delete(path);
        }
    }

    [SkippableFact]
    public void A_user_whose_file_was_removed_by_hand_leaves_the_files_newer_users_made_alone()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files are removed by their last user on Linux.");
        string name = UniqueName.Next("gone");
        using var stale = new NamedLock(name);
        File.Delete(stale.Path);
        using var current = new NamedLock(name);
        using LockLease lease = current.Acquire(TimeSpan.Zero);

        // The stale user is the last one of its (unlinked) file; the name belongs to another file now.
        stale.Dispose();
        Assert.True(File.Exists(current.Path), "Closing the removed file unlinked the file other users hold.");
        using var newcomer = new NamedLock(name);
        Assert.False(newcomer.TryAcquire(out _));
    }

    private static void RequireFutex() =>
        Requires.Platform(OperatingSystem.IsLinux() && Interop.Futex.IsSupported, "Lock waiters sleep on a futex on 64-bit Linux.");

    /// <summary>Waits until the lock file counts the sleeper (it is then about to sleep, or asleep); fails if the sleep ended first.</summary>
    private static async Task SleeperCountedAsync(LockFile file, Task sleeping)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (file.Sleepers == 0)
        {
            Assert.False(sleeping.IsCompleted, "The sleep ended before anything woke it.");
            await Task.Delay(1, deadline.Token);
        }
    }

    /// <summary>Waits until two descriptors of this process have <paramref name="path"/> open (the test's and the opener's).</summary>
    private static async Task OpenedTwiceAsync(string path, Task opening)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (OpenCount(path) < 2)
        {
            Assert.False(opening.IsCompleted, "The opener finished while the lifecycle byte was held.");
            await Task.Delay(1, deadline.Token);
        }
    }

    private static int OpenCount(string path)
    {
        int count = 0;
        foreach (string descriptor in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (File.ResolveLinkTarget(descriptor, returnFinalTarget: false)?.FullName == path)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        return count;
    }

    /// <summary>A complete lock file with one lease at the name, as a user of the lock would have left it.</summary>
    private static string PlantLockFile(string name)
    {
        string path = IpcName.GetLockPath(name);
        byte[] header = new byte[LockFileLayout.FileLength(1)];
        BinaryPrimitives.WriteUInt64LittleEndian(header, LockFileLayout.Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(LockFileLayout.VersionOffset), LockFileLayout.Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(LockFileLayout.LeasesOffset), 1);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                // The user folder is shared with pipe servers, which remove it when it is empty: it may vanish meanwhile.
                Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
                file.Write(header);
                return path;
            }
            catch (DirectoryNotFoundException) when (attempt < 20)
            {
            }
        }
    }
}
