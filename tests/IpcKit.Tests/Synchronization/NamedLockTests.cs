using System.Diagnostics;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>NamedLock in one process: exclusion between instances and threads, leases, recursion, timeouts, cancellation, lifecycle.</summary>
public sealed class NamedLockTests
{
    [Fact]
    public void Two_instances_in_one_process_exclude_each_other_like_two_processes()
    {
        string name = UniqueName.Next("lock");
        using var first = new NamedLock(name);
        using var second = new NamedLock(name);

        using (LockLease lease = first.Acquire())
        {
            Assert.Equal(0, lease.Index);
            Assert.False(lease.Abandoned);
            Assert.Null(lease.AbandonedBy);
            Assert.True(lease.IsHeld);
            Assert.Same(first, lease.Lock);
            Assert.False(second.TryAcquire(out _));
        }

        Assert.True(second.TryAcquire(out LockLease? taken));
        using (taken)
        {
            Assert.False(first.TryAcquire(out _));
        }
    }

    [Fact]
    public async Task Two_threads_on_one_instance_exclude_each_other()
    {
        using var named = new NamedLock(UniqueName.Next("lock"));
        using LockLease lease = named.Acquire();

        // The same open file holds the byte lock already; the kernel would grant it again, the instance must not.
        bool other = await Task.Factory.StartNew(() => named.TryAcquire(out LockLease? _), TaskCreationOptions.LongRunning);
        Assert.False(other);
        Assert.Null(await named.TryAcquireAsync());
    }

    [Fact]
    public void A_thread_that_holds_the_lock_gets_LockRecursionException_instead_of_waiting_for_itself()
    {
        using var named = new NamedLock(UniqueName.Next("lock"));
        using var sameName = new NamedLock(named.Name);
        using LockLease lease = named.Acquire();

        // With a deadline, so that a broken check fails the test (TimeoutException) instead of hanging it.
        var recursion = Assert.Throws<LockRecursionException>(() => named.Acquire(TestTimeouts.Unexpected));
        Assert.Contains(named.Name, recursion.Message, StringComparison.Ordinal);
        Assert.Throws<LockRecursionException>(() => sameName.Acquire(TimeSpan.FromSeconds(1)));
        Assert.Throws<LockRecursionException>(() => named.TryAcquire(out _, TimeSpan.FromSeconds(1)));

        // Without a wait there is nothing to deadlock: the answer is simply no.
        Assert.False(named.TryAcquire(out _));
        lease.Dispose();
        using LockLease again = named.Acquire();
        Assert.True(again.IsHeld);
    }

    [Fact]
    public void With_leases_a_thread_may_hold_several_but_not_wait_for_the_last_it_holds()
    {
        using var named = new NamedLock(UniqueName.Next("lock"), new NamedLockOptions { Leases = 2 });
        using LockLease first = named.Acquire();
        using LockLease second = named.Acquire(TimeSpan.FromSeconds(1));
        Assert.NotEqual(first.Index, second.Index);
        Assert.Throws<LockRecursionException>(() => named.Acquire(TestTimeouts.Unexpected));
    }

    [Fact]
    public async Task N_leases_admit_exactly_N_holders()
    {
        const int Leases = 3;
        string name = UniqueName.Next("lock");
        var options = new NamedLockOptions { Leases = Leases };
        using var named = new NamedLock(name, options);
        using var other = new NamedLock(name, options);
        Assert.Equal(Leases, named.Leases);

        var leases = new List<LockLease> { named.Acquire(), await other.AcquireAsync(), named.Acquire(TimeSpan.FromSeconds(1)) };
        Assert.Equal([0, 1, 2], leases.Select(lease => lease.Index).Order());
        Assert.False(other.TryAcquire(out _));
        Assert.Null(await named.TryAcquireAsync(TestTimeouts.Expected));

        leases[1].Dispose();
        Assert.True(other.TryAcquire(out LockLease? freed));
        Assert.Equal(leases[1].Index, freed.Index);
        freed.Dispose();
        leases.ForEach(lease => lease.Dispose());
    }

    [Fact]
    public void Every_user_of_a_name_must_ask_for_the_same_number_of_leases()
    {
        string name = UniqueName.Next("lock");
        using var named = new NamedLock(name, new NamedLockOptions { Leases = 2 });
        var mismatch = Assert.Throws<ArgumentException>(() => new NamedLock(name, new NamedLockOptions { Leases = 3 }));
        Assert.Contains("2 leases", mismatch.Message, StringComparison.Ordinal);
        Assert.Contains("asked for 3", mismatch.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(NamedLockOptions.MaxLeases + 1)]
    public void Lease_counts_out_of_range_are_refused_naming_the_option(int leases)
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new NamedLock(UniqueName.Next("lock"), new NamedLockOptions { Leases = leases }));
        Assert.Equal("Leases", refused.ParamName);
    }

    [Fact]
    public void The_most_leases_work()
    {
        string name = UniqueName.Next("lock");
        using var named = new NamedLock(name, new NamedLockOptions { Leases = NamedLockOptions.MaxLeases });
        var leases = Enumerable.Range(0, NamedLockOptions.MaxLeases).Select(_ => named.Acquire(TimeSpan.Zero)).ToList();
        Assert.Equal(NamedLockOptions.MaxLeases - 1, leases[^1].Index);
        Assert.False(named.TryAcquire(out _));
        leases.ForEach(lease => lease.Dispose());
    }

    [Theory]
    [InlineData("", "cannot be empty")]
    [InlineData("a/b", "'/' at index 1")]
    [InlineData(".hidden", "starts with '.'")]
    [InlineData("tab\tname", "U+0009")]
    public void Invalid_names_are_rejected_with_the_rule(string name, string expected)
    {
        var exception = Assert.Throws<ArgumentException>(() => new NamedLock(name));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => IpcName.GetLockPath(name));
    }

    [Fact]
    public void The_longest_name_works_and_one_more_character_is_refused()
    {
        string prefix = UniqueName.Next("lock");
        string longest = prefix + new string('l', IpcName.MaxLockNameLength - prefix.Length);
        using (var named = new NamedLock(longest))
        using (named.Acquire())
        {
            Assert.True(File.Exists(named.Path));
        }

        Assert.Throws<ArgumentException>(() => new NamedLock(longest + "l"));
    }

    [Fact]
    public async Task Timeouts_TryAcquire_returns_false_and_Acquire_throws_TimeoutException()
    {
        string name = UniqueName.Next("lock");
        using var holder = new NamedLock(name);
        using var waiter = new NamedLock(name);
        using LockLease held = holder.Acquire();

        var watch = Stopwatch.StartNew();
        Assert.False(await Task.Run(() => waiter.TryAcquire(out _, TestTimeouts.Expected)).WaitAsync(TestTimeouts.Unexpected));
        Assert.True(watch.Elapsed >= TestTimeouts.Expected - TimeSpan.FromMilliseconds(20), $"Gave up after {watch.Elapsed}.");

        var timedOut = await Assert.ThrowsAsync<TimeoutException>(() => Task.Run(() => waiter.Acquire(TimeSpan.FromMilliseconds(50))));
        Assert.Contains(name, timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("50 ms", timedOut.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TimeoutException>(async () => await waiter.AcquireAsync(TimeSpan.FromMilliseconds(50)));
        Assert.Null(await waiter.TryAcquireAsync(TimeSpan.FromMilliseconds(50)));
        Assert.Throws<ArgumentOutOfRangeException>(() => waiter.TryAcquire(out _, TimeSpan.FromMilliseconds(-5)));
    }

    [Fact]
    public async Task A_waiter_wakes_when_the_holder_releases()
    {
        string name = UniqueName.Next("lock");
        using var holder = new NamedLock(name);
        using var waiter = new NamedLock(name);
        LockLease held = holder.Acquire();

        Task<LockLease> sync = Task.Factory.StartNew(() => waiter.Acquire(TestTimeouts.Unexpected), TaskCreationOptions.LongRunning);
        Task<LockLease> async = waiter.AcquireAsync(TestTimeouts.Unexpected).AsTask();
        Assert.False(async.IsCompleted);
        Assert.NotSame(sync, await Task.WhenAny(sync, Task.Delay(TestTimeouts.Expected)));

        held.Dispose();
        LockLease first = await Task.WhenAny(sync, async).Unwrap().WaitAsync(TestTimeouts.Unexpected);
        Assert.False(first.Abandoned);
        first.Dispose();
        LockLease[] both = await Task.WhenAll(sync, async).WaitAsync(TestTimeouts.Unexpected);
        Assert.All(both, lease => Assert.False(lease.Abandoned));
        both.First(lease => lease != first).Dispose();
        Assert.True(holder.TryAcquire(out LockLease? back));
        back.Dispose();
    }

    [Fact]
    public async Task A_blocked_Acquire_is_cancelled_by_its_token_and_holds_nothing()
    {
        string name = UniqueName.Next("lock");
        using var holder = new NamedLock(name);
        using var waiter = new NamedLock(name);
        LockLease held = holder.Acquire();
        using var cancellation = new CancellationTokenSource();

        Task<LockLease> sync = Task.Factory.StartNew(() => waiter.Acquire(cancellationToken: cancellation.Token), TaskCreationOptions.LongRunning);
        Task<LockLease> async = waiter.AcquireAsync(cancellationToken: cancellation.Token).AsTask();
        Task<LockLease?> tryAsync = waiter.TryAcquireAsync(Timeout.InfiniteTimeSpan, cancellation.Token).AsTask();
        Assert.NotSame(sync, await Task.WhenAny(sync, Task.Delay(TestTimeouts.Expected)));
        cancellation.Cancel();

        // At once for an async wait: Cancel itself completes it (its registration runs inside Cancel), not the wait
        // thread's next look.
        Assert.True(tryAsync.IsCompleted, "Cancel returned and the async wait is still pending.");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tryAsync);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sync.WaitAsync(TestTimeouts.Unexpected));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => async.WaitAsync(TestTimeouts.Unexpected));
        Assert.Throws<OperationCanceledException>(() => waiter.Acquire(cancellationToken: cancellation.Token));

        // The cancelled waits took nothing: once released, the lock is free for anyone.
        held.Dispose();
        Assert.True(waiter.TryAcquire(out LockLease? free, TestTimeouts.Unexpected));
        free.Dispose();
    }

    [Fact]
    public async Task Async_waits_do_not_hold_thread_pool_threads()
    {
        string name = UniqueName.Next("lock");
        using var holder = new NamedLock(name, new NamedLockOptions { Leases = 64 });
        using var waiter = new NamedLock(name, new NamedLockOptions { Leases = 64 });
        var held = Enumerable.Range(0, 64).Select(_ => holder.Acquire(TimeSpan.Zero)).ToList();

        // If each wait blocked a pool thread, 64 of them would starve the pool, and the probe below would queue behind them.
        var waits = Enumerable.Range(0, 64).Select(_ => waiter.AcquireAsync(TestTimeouts.Unexpected).AsTask()).ToList();
        await Task.WhenAll(Enumerable.Range(0, Environment.ProcessorCount * 4).Select(_ => Task.Run(() => { }))).WaitAsync(TestTimeouts.Unexpected);

        held.ForEach(lease => lease.Dispose());
        LockLease[] taken = await Task.WhenAll(waits).WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(64, taken.Select(lease => lease.Index).Distinct().Count());
        Array.ForEach(taken, lease => lease.Dispose());
    }

    [Fact]
    public async Task Dispose_releases_the_leases_and_ends_waits_on_that_instance()
    {
        string name = UniqueName.Next("lock");
        using var other = new NamedLock(name);
        var named = new NamedLock(name);
        LockLease lease = named.Acquire();
        var blocked = new NamedLock(name, new NamedLockOptions());
        Task<LockLease> wait = Task.Factory.StartNew(() => blocked.Acquire(TestTimeouts.Unexpected), TaskCreationOptions.LongRunning);
        Assert.NotSame(wait, await Task.WhenAny(wait, Task.Delay(TestTimeouts.Expected)));
        blocked.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.WaitAsync(TestTimeouts.Unexpected));

        named.Dispose();
        named.Dispose();
        Assert.False(lease.IsHeld);
        lease.Dispose();
        Assert.Throws<ObjectDisposedException>(() => named.Acquire());
        Assert.True(other.TryAcquire(out LockLease? free), "Dispose should have released the lease.");
        Assert.False(free.Abandoned);
        free.Dispose();
    }

    [Fact]
    public void A_lease_released_twice_releases_once()
    {
        string name = UniqueName.Next("lock");
        using var named = new NamedLock(name);
        using var other = new NamedLock(name);
        LockLease first = named.Acquire();
        first.Dispose();
        LockLease second = named.Acquire();

        // The stale handle must not release the lease that was taken after it.
        first.Dispose();
        Assert.True(second.IsHeld);
        Assert.False(other.TryAcquire(out _));
        second.Dispose();
    }

    [SkippableFact]
    public void The_lock_file_is_0600_in_the_user_folder_and_goes_with_the_last_user()
    {
        Requires.Platform(!OperatingSystem.IsWindows(), "Unix file modes.");
        string name = UniqueName.Next("lock");
        string path = IpcName.GetLockPath(name);
        Assert.Equal(Path.GetDirectoryName(IpcName.GetPipePath("x")), Path.GetDirectoryName(path));
        Assert.EndsWith($"{name}.nlock", path, StringComparison.Ordinal);

        var first = new NamedLock(name);
        Assert.Equal(path, first.Path);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        using (var second = new NamedLock(name))
        {
            first.Dispose();
            Assert.True(File.Exists(path), "The file went while another user still had it open.");
            second.Acquire().Dispose();
        }

        Assert.False(File.Exists(path), "The last user left the lock file behind.");
        Assert.Null(NamedLock.GetInfo(name));
    }

    [SkippableFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void An_opener_notices_when_the_name_no_longer_names_the_file_it_opened()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "statx.");
        using var folder = new TempDirectory();
        string path = folder.File("lock");
        File.WriteAllText(path, "");
        using Microsoft.Win32.SafeHandles.SafeFileHandle opened = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        Assert.True(LockFile.StillNamed(opened, path));

        // Moved away (still linked, just not at this name) and the name made again: another inode.
        File.Move(path, path + ".moved");
        Assert.False(LockFile.StillNamed(opened, path));
        File.WriteAllText(path, "");
        Assert.False(LockFile.StillNamed(opened, path));

        // A last user unlinked it after we opened it.
        File.Delete(path + ".moved");
        File.Delete(path);
        Assert.False(LockFile.StillNamed(opened, path));
    }

    [SkippableFact]
    public void Info_shows_holders_and_free_leases()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "GetInfo reads Linux open-file-description locks.");
        string name = UniqueName.Next("lock");
        using var named = new NamedLock(name, new NamedLockOptions { Leases = 2 });
        using LockLease lease = named.Acquire();

        NamedLockInfo info = NamedLock.GetInfo(name)!;
        Assert.Equal(name, info.Name);
        Assert.Equal(named.Path, info.Path);
        Assert.Equal(2, info.Leases);
        LockLeaseInfo held = Assert.Single(info.Holders);
        Assert.Equal(lease.Index, held.Index);
        Assert.Equal(Environment.ProcessId, held.ProcessId);
        Assert.NotNull(held.Since);
        Assert.Equal(LockLeaseState.Free, info.LeaseStates[1 - lease.Index].State);
    }
}
