using System.Globalization;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>NamedLock between real processes: exclusion, leases, wake-ups, and holders killed with SIGKILL.</summary>
public sealed class NamedLockCrossProcessTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Two_processes_add_to_a_shared_file_2N_times_under_the_lock_and_get_exactly_2N()
    {
        const int Iterations = 400;
        string name = UniqueName.Next("xlock");
        string counter = _temp.File("counter");
        File.WriteAllText(counter, "0");

        using ChildProcess first = ChildProcess.Start("lock-counter", name, counter, Iterations.ToString(CultureInfo.InvariantCulture));
        using ChildProcess second = ChildProcess.Start("lock-counter", name, counter, Iterations.ToString(CultureInfo.InvariantCulture));
        await first.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        await second.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

        Assert.Equal(2 * Iterations, int.Parse(File.ReadAllText(counter), CultureInfo.InvariantCulture));
        Assert.False(File.Exists(IpcName.GetLockPath(name)), "The last process left the lock file behind.");
    }

    [Theory]
    [InlineData(2, "sync")]
    [InlineData(3, "async")]
    public async Task With_N_leases_never_more_than_N_holders_at_once(int leases, string mode)
    {
        const int Processes = 4;
        const int Iterations = 150;
        string name = UniqueName.Next("xlock");
        string words = _temp.File("holders");
        File.WriteAllBytes(words, new byte[4096]);

        var children = Enumerable.Range(0, Processes)
            .Select(_ => ChildProcess.Start("lock-holders", name, words, Iterations.ToString(CultureInfo.InvariantCulture), leases.ToString(CultureInfo.InvariantCulture), mode))
            .ToList();
        try
        {
            foreach (ChildProcess child in children)
            {
                await child.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
            }
        }
        finally
        {
            children.ForEach(child => child.Dispose());
        }

        byte[] shared = File.ReadAllBytes(words);
        int most = BitConverter.ToInt32(shared, 4);
        Assert.Equal(0, BitConverter.ToInt32(shared, 0));
        Assert.InRange(most, 1, leases);
    }

    [Theory]
    [InlineData("sync")]
    [InlineData("async")]
    public async Task A_waiting_process_wakes_when_the_holder_releases(string mode)
    {
        string name = UniqueName.Next("xlock");
        using var named = new NamedLock(name);
        LockLease lease = named.Acquire();
        using ChildProcess waiter = ChildProcess.Start("lock-wait", name, "30000", mode);
        await waiter.ReadyAsync();
        Assert.DoesNotContain(waiter.Lines, line => line.StartsWith("ACQUIRED", StringComparison.Ordinal));

        lease.Dispose();
        Assert.Equal("ACQUIRED lease=0 abandoned=0", await waiter.WaitForLineAsync("ACQUIRED"));
        await waiter.AssertExitCodeAsync(0);
    }

    [Fact]
    public async Task A_holder_killed_with_SIGKILL_frees_the_lock_and_its_next_owner_is_told()
    {
        string name = UniqueName.Next("xlock");
        using ChildProcess holder = ChildProcess.Start("lock-hold", name);
        Assert.Equal("HELD lease=0 abandoned=0", await holder.WaitForLineAsync("HELD"));
        using var log = new LogCapture();
        using var named = new NamedLock(name, new NamedLockOptions { LoggerFactory = log });
        Assert.False(named.TryAcquire(out _));

        holder.Kill();
        await holder.WaitForExitAsync();
        using (LockLease lease = named.Acquire(TestTimeouts.Unexpected))
        {
            Assert.True(lease.Abandoned);
            Assert.Equal(holder.Id, lease.AbandonedBy);
        }

        var logged = Assert.Single(log.Entries, entry => entry.EventId == 3000);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, logged.Level);
        Assert.Contains($"process {holder.Id}", logged.Message, StringComparison.Ordinal);

        // Told once: after a clean release the next owner is not told again.
        using (LockLease lease = named.Acquire(TestTimeouts.Unexpected))
        {
            Assert.False(lease.Abandoned);
        }
    }

    [Fact]
    public async Task A_process_waiting_when_the_holder_is_killed_takes_the_lock_over()
    {
        string name = UniqueName.Next("xlock");
        using ChildProcess holder = ChildProcess.Start("lock-hold", name);
        await holder.WaitForLineAsync("HELD");
        using ChildProcess waiter = ChildProcess.Start("lock-wait", name, "30000");
        await waiter.ReadyAsync();

        holder.Kill();
        Assert.Equal($"ACQUIRED lease=0 abandoned={holder.Id}", await waiter.WaitForLineAsync("ACQUIRED"));
        await waiter.AssertExitCodeAsync(0);
    }

    [Fact]
    public async Task A_clean_release_before_exit_is_not_an_abandonment()
    {
        string name = UniqueName.Next("xlock");
        using (ChildProcess holder = ChildProcess.Start("lock-hold", name))
        {
            await holder.WaitForLineAsync("HELD");
            holder.Input.Close();
            await holder.WaitForLineAsync("RELEASED");
            await holder.AssertExitCodeAsync(0);
        }

        using var named = new NamedLock(name);
        using LockLease lease = named.Acquire(TestTimeouts.Unexpected);
        Assert.False(lease.Abandoned);
    }

    [SkippableFact]
    public async Task A_dead_holders_mark_keeps_the_file_until_the_next_owner_was_told_then_it_goes()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Lock files are removed by their last user on Linux.");
        string name = UniqueName.Next("xlock");
        using (ChildProcess holder = ChildProcess.Start("lock-hold", name, "2"))
        {
            await holder.WaitForLineAsync("HELD");
            holder.Kill();
            await holder.WaitForExitAsync();
        }

        // Nobody has the lock open now, yet the file stays: it carries the news for the lease's next owner.
        string path = IpcName.GetLockPath(name);
        Assert.True(File.Exists(path));
        NamedLockInfo info = NamedLock.GetInfo(name)!;
        Assert.Equal(LockLeaseState.Abandoned, info.LeaseStates[0].State);
        using (var opened = new NamedLock(name, new NamedLockOptions { Leases = 2 }))
        {
        }

        Assert.True(File.Exists(path), "Opening and closing without taking the lease must keep the mark.");
        using (var named = new NamedLock(name, new NamedLockOptions { Leases = 2 }))
        using (LockLease lease = named.Acquire())
        {
            Assert.True(lease.Abandoned);
        }

        Assert.False(File.Exists(path));
    }
}
