using System.Diagnostics;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>NamedSemaphore in one process: lifecycle, names, counting, timeouts, cancellation, async waits.</summary>
public sealed class NamedSemaphoreTests : IDisposable
{
    private readonly List<string> _names = [];

    public void Dispose()
    {
        foreach (string name in _names)
        {
            NamedSemaphore.Delete(name);
        }
    }

    [Fact]
    public void Create_Open_Exists_Delete()
    {
        string name = NewName();
        Assert.False(NamedSemaphore.Exists(name));

        using (NamedSemaphore created = NamedSemaphore.Create(name, 1, 5))
        {
            Assert.Equal(name, created.Name);
            Assert.Equal(5, created.MaximumCount);
            Assert.True(NamedSemaphore.Exists(name));

            using NamedSemaphore opened = NamedSemaphore.Open(name);
            Assert.True(opened.TryWait());
            Assert.False(created.TryWait());
            if (OperatingSystem.IsLinux())
            {
                Assert.Equal(5, opened.MaximumCount);
            }
        }

        Assert.True(NamedSemaphore.Exists(name));
        Assert.True(NamedSemaphore.Delete(name));
        Assert.False(NamedSemaphore.Exists(name));
        Assert.False(NamedSemaphore.Delete(name));
    }

    [Fact]
    public void Second_create_of_the_same_name_fails()
    {
        string name = NewName();
        using NamedSemaphore first = NamedSemaphore.Create(name, 0, 1);

        var exception = Assert.Throws<IpcAlreadyExistsException>(() => NamedSemaphore.Create(name, 0, 1));
        Assert.Equal(name, exception.Name);
        Assert.Contains(name, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_of_a_missing_semaphore_names_it()
    {
        string name = NewName();
        var exception = Assert.Throws<IpcNotFoundException>(() => NamedSemaphore.Open(name));
        Assert.Equal(name, exception.Name);
        Assert.Contains($"'{name}'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateOrOpen_tells_whether_it_created()
    {
        string name = NewName();
        using NamedSemaphore first = NamedSemaphore.CreateOrOpen(name, 1, 1, out bool createdFirst);
        using NamedSemaphore second = NamedSemaphore.CreateOrOpen(name, 1, 1, out bool createdSecond);

        Assert.True(createdFirst);
        Assert.False(createdSecond);
        Assert.True(second.TryWait());
        Assert.False(first.TryWait());
    }

    [Theory]
    [InlineData("", "cannot be empty")]
    [InlineData("a/b", "'/' at index 1")]
    [InlineData("a\\b", "'\\' at index 1")]
    [InlineData("a\0b", "NUL at index 1")]
    [InlineData("a b", "U+0020 at index 1")]
    [InlineData("tab\t", "U+0009 at index 3")]
    [InlineData("caf\u00e9", "'\u00e9' at index 3")]
    [InlineData("a~free", "'~' at index 1")]
    [InlineData(".hidden", "starts with '.'")]
    public void Invalid_names_are_rejected_with_the_rule(string name, string expected)
    {
        var exception = Assert.Throws<ArgumentException>(() => NamedSemaphore.Create(name, 0, 1));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.Equal("name", exception.ParamName);
        Assert.Throws<ArgumentException>(() => NamedSemaphore.Open(name));
        Assert.Throws<ArgumentException>(() => NamedSemaphore.Exists(name));
        Assert.Throws<ArgumentException>(() => NamedSemaphore.Delete(name));
    }

    [Fact]
    public void A_name_too_long_for_the_OS_is_rejected_and_the_longest_one_works()
    {
        string tooLong = new('x', IpcName.MaxSemaphoreNameLength + 1);
        var exception = Assert.Throws<ArgumentException>(() => NamedSemaphore.Create(tooLong, 0, 1));
        Assert.Contains($"at most {IpcName.MaxSemaphoreNameLength}", exception.Message, StringComparison.Ordinal);

        string longest = NewName() + new string('y', IpcName.MaxSemaphoreNameLength - NewName().Length);
        _names.Add(longest);
        using NamedSemaphore semaphore = NamedSemaphore.Create(longest, 1, 1);
        Assert.True(semaphore.TryWait());
    }

    [Fact]
    public void Counts_are_validated()
    {
        string name = NewName();
        Assert.Throws<ArgumentOutOfRangeException>(() => NamedSemaphore.Create(name, -1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NamedSemaphore.Create(name, 2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NamedSemaphore.Create(name, 0, 0));
        Assert.False(NamedSemaphore.Exists(name));
    }

    [Fact]
    public void Counting_semantics_and_the_maximum()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 2, 3);
        Assert.Equal(2, semaphore.GetCurrentCount() ?? 2);

        Assert.True(semaphore.TryWait());
        Assert.True(semaphore.TryWait());
        Assert.False(semaphore.TryWait());

        semaphore.Release(3);
        Assert.Throws<SemaphoreFullException>(() => semaphore.Release());
        Assert.Throws<ArgumentOutOfRangeException>(() => semaphore.Release(0));

        // A failed release adds nothing: still exactly three counts.
        Assert.True(semaphore.TryWait());
        Assert.True(semaphore.TryWait());
        semaphore.Release(1);
        Assert.Throws<SemaphoreFullException>(() => semaphore.Release(2));
        Assert.True(semaphore.TryWait());
        Assert.True(semaphore.TryWait());
        Assert.False(semaphore.TryWait());
    }

    [Fact]
    public void The_maximum_holds_for_every_handle_of_the_semaphore()
    {
        string name = NewName();
        using NamedSemaphore created = NamedSemaphore.Create(name, 0, 1);
        using NamedSemaphore opened = NamedSemaphore.Open(name);

        opened.Release();
        Assert.Throws<SemaphoreFullException>(() => created.Release());
        Assert.True(created.TryWait());
        created.Release();
        Assert.Throws<SemaphoreFullException>(() => opened.Release());
    }

    [Fact]
    public void TryWait_with_a_timeout_returns_false_and_Wait_throws_TimeoutException_after_about_the_timeout()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 0, 1);

        var watch = Stopwatch.StartNew();
        Assert.False(semaphore.TryWait(TestTimeouts.Expected));
        watch.Stop();

        Assert.InRange(watch.Elapsed, TestTimeouts.Expected - TimeSpan.FromMilliseconds(20), TestTimeouts.Unexpected);
        Assert.False(semaphore.TryWait(TimeSpan.Zero));
        Assert.False(semaphore.TryWait());

        var timedOut = Assert.Throws<TimeoutException>(() => semaphore.Wait(TimeSpan.FromMilliseconds(50)));
        Assert.Contains(semaphore.Name, timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("50 ms", timedOut.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => semaphore.TryWait(TimeSpan.FromMilliseconds(-2)));
    }

    [Fact]
    public async Task TryWaitAsync_returns_false_and_WaitAsync_throws_TimeoutException_after_about_the_timeout()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 0, 1);

        var watch = Stopwatch.StartNew();
        Assert.False(await semaphore.TryWaitAsync(TestTimeouts.Expected));
        watch.Stop();

        Assert.InRange(watch.Elapsed, TestTimeouts.Expected - TimeSpan.FromMilliseconds(20), TestTimeouts.Unexpected);

        await Assert.ThrowsAsync<TimeoutException>(async () => await semaphore.WaitAsync(TimeSpan.FromMilliseconds(50)));
        semaphore.Release();
        await semaphore.WaitAsync();
        Assert.False(semaphore.TryWait());
    }

    [Fact]
    public async Task Wait_is_cancelled_by_its_token()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 0, 1);
        using var cancellation = new CancellationTokenSource();

        Task wait = Task.Factory.StartNew(() => semaphore.Wait(cancellationToken: cancellation.Token), TaskCreationOptions.LongRunning);
        Assert.NotSame(wait, await Task.WhenAny(wait, Task.Delay(TestTimeouts.Expected)));
        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TestTimeouts.Unexpected));
        Assert.Throws<OperationCanceledException>(() => semaphore.Wait(cancellationToken: cancellation.Token));
    }

    [Fact]
    public async Task WaitAsync_is_cancelled_at_once_and_a_cancelled_wait_takes_no_count()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 0, 1);
        using var cancellation = new CancellationTokenSource();

        ValueTask<bool> wait = semaphore.TryWaitAsync(Timeout.InfiniteTimeSpan, cancellation.Token);
        Assert.False(wait.IsCompleted);
        cancellation.Cancel();

        // At once: Cancel itself completes the wait (its registration runs inside Cancel), not the wait thread's
        // next slice.
        Assert.True(wait.IsCompleted, "Cancel returned and the wait is still pending.");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);

        // The released count goes to the next waiter, not to the cancelled one.
        semaphore.Release();
        Assert.True(await semaphore.TryWaitAsync(TestTimeouts.Unexpected));
        Assert.False(semaphore.TryWait());
    }

    [Fact]
    public async Task WaitAsync_wakes_on_release_and_completes_synchronously_when_a_count_is_there()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 1, 2);

        ValueTask<bool> immediate = semaphore.TryWaitAsync(TestTimeouts.Unexpected);
        Assert.True(immediate.IsCompletedSuccessfully);
        Assert.True(await immediate);

        ValueTask<bool> pending = semaphore.TryWaitAsync(TestTimeouts.Unexpected);
        Assert.False(pending.IsCompleted);
        semaphore.Release();
        Assert.True(await pending);
    }

    [Fact]
    public async Task Async_waits_do_not_hold_thread_pool_threads()
    {
        using NamedSemaphore semaphore = NamedSemaphore.Create(NewName(), 0, int.MaxValue);
        const int Waiters = 64;

        // If each wait blocked a pool thread, 64 of them would starve the pool (it injects threads slowly), and the
        // probe below would queue behind them.
        var waits = Enumerable.Range(0, Waiters).Select(_ => semaphore.TryWaitAsync(TestTimeouts.Unexpected).AsTask()).ToList();
        await Task.WhenAll(Enumerable.Range(0, Environment.ProcessorCount * 4).Select(_ => Task.Run(() => Thread.Sleep(1)))).WaitAsync(TestTimeouts.Unexpected);

        // Counted, not timed: the pool's busy workers (its maximum less what is available). Waits that blocked pool
        // threads would hold one each, far more than the few other tests keep busy meanwhile.
        ThreadPool.GetMaxThreads(out int maxWorkers, out _);
        ThreadPool.GetAvailableThreads(out int availableWorkers, out _);
        int busy = maxWorkers - availableWorkers;
        Assert.True(busy < Waiters / 2, $"{busy} thread-pool threads are busy while {Waiters} async waits are pending.");

        semaphore.Release(Waiters);
        bool[] results = await Task.WhenAll(waits).WaitAsync(TestTimeouts.Unexpected);
        Assert.All(results, Assert.True);
    }

    [Fact]
    public void Dispose_makes_the_handle_unusable_but_keeps_the_semaphore()
    {
        string name = NewName();
        NamedSemaphore semaphore = NamedSemaphore.Create(name, 1, 1);
        semaphore.Dispose();
        semaphore.Dispose();

        Assert.Throws<ObjectDisposedException>(() => semaphore.TryWait());
        Assert.Throws<ObjectDisposedException>(() => semaphore.Release());
        using NamedSemaphore again = NamedSemaphore.Open(name);
        Assert.True(again.TryWait());
    }

    [Fact]
    public void Os_name_and_file_follow_the_documented_mapping()
    {
        string name = NewName();
        if (OperatingSystem.IsWindows())
        {
            Assert.Equal($"Local\\ipckit.{name}", IpcName.GetSemaphoreOsName(name));
            Assert.Null(IpcName.GetSemaphorePath(name));
            return;
        }

        Assert.Equal($"/ipckit.{name}", IpcName.GetSemaphoreOsName(name));
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal($"/dev/shm/sem.ipckit.{name}", IpcName.GetSemaphorePath(name));
            using NamedSemaphore semaphore = NamedSemaphore.Create(name, 0, 1);
            Assert.True(File.Exists(IpcName.GetSemaphorePath(name)));
        }
    }

    private string NewName()
    {
        string name = UniqueName.Next("sem");
        _names.Add(name);
        return name;
    }
}
