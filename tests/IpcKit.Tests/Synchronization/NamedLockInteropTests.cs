using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>A C program (tests/native/lock_peer.c) that uses a lock file as docs/locks.md describes interoperates with NamedLock.</summary>
public sealed class NamedLockInteropTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public async Task A_C_holder_excludes_dotnet_shows_in_info_and_its_release_frees_the_lock()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Open-file-description locks are Linux's.");
        string peer = CCompiler.CompileNative(_temp, "lock_peer");
        using var named = new NamedLock(UniqueName.Next("clock"));
        using ChildProcess c = ChildProcess.StartProgram(peer, [named.Path, "0", "ofd"]);
        await c.WaitForLineAsync("HOLDING");

        Assert.False(named.TryAcquire(out _));
        LockLeaseInfo held = Assert.Single(NamedLock.GetInfo(named.Name)!.Holders);
        Assert.Equal(c.Id, held.ProcessId);

        await c.Input.WriteLineAsync("release");
        await c.Input.FlushAsync();
        await c.WaitForLineAsync("RELEASED");
        using LockLease lease = named.Acquire(TestTimeouts.Unexpected);
        Assert.False(lease.Abandoned);
        await c.AssertExitCodeAsync(0);
    }

    [SkippableFact]
    public async Task A_C_program_finds_a_lease_dotnet_holds_busy()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Open-file-description locks are Linux's.");
        string peer = CCompiler.CompileNative(_temp, "lock_peer");
        using var named = new NamedLock(UniqueName.Next("clock"));
        using LockLease lease = named.Acquire();

        using (ChildProcess ofd = ChildProcess.StartProgram(peer, [named.Path, "0", "ofd"]))
        {
            await ofd.WaitForLineAsync("BUSY");
            await ofd.AssertExitCodeAsync(1);
        }

        using ChildProcess classic = ChildProcess.StartProgram(peer, [named.Path, "0", "classic"]);
        await classic.WaitForLineAsync("BUSY");
        await classic.AssertExitCodeAsync(1);
    }

    [SkippableFact]
    public async Task A_C_holder_killed_with_SIGKILL_is_reported_to_the_next_dotnet_owner()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Open-file-description locks are Linux's.");
        string peer = CCompiler.CompileNative(_temp, "lock_peer");
        using var named = new NamedLock(UniqueName.Next("clock"));
        using ChildProcess c = ChildProcess.StartProgram(peer, [named.Path, "0", "ofd"]);
        await c.WaitForLineAsync("HOLDING");

        c.Kill();
        using LockLease lease = named.Acquire(TestTimeouts.Unexpected);
        Assert.True(lease.Abandoned);
        Assert.Equal(c.Id, lease.AbandonedBy);
    }

    [SkippableFact]
    public async Task A_classic_lockf_style_holder_excludes_dotnet_and_info_names_it_from_the_kernel()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "Open-file-description locks are Linux's.");
        string peer = CCompiler.CompileNative(_temp, "lock_peer");
        using var named = new NamedLock(UniqueName.Next("clock"), new NamedLockOptions { Leases = 2 });
        using ChildProcess c = ChildProcess.StartProgram(peer, [named.Path, "1", "classic"]);
        await c.WaitForLineAsync("HOLDING");

        using (LockLease first = named.Acquire())
        {
            Assert.Equal(0, first.Index);
            Assert.False(named.TryAcquire(out _));
        }

        LockLeaseInfo held = Assert.Single(NamedLock.GetInfo(named.Name)!.Holders);
        Assert.Equal(1, held.Index);
        Assert.Equal(c.Id, held.ProcessId);
        c.Input.Close();
        await c.AssertExitCodeAsync(0);
        using LockLease freed = named.Acquire(TestTimeouts.Unexpected);
        Assert.True(freed.IsHeld);
    }
}
