using System.Globalization;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Synchronization;

/// <summary>NamedSemaphore between real processes: other .NET processes, a C program, the ipckit CLI.</summary>
public sealed class NamedSemaphoreCrossProcessTests : IDisposable
{
    private readonly List<string> _names = [];
    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        foreach (string name in _names)
        {
            NamedSemaphore.Delete(name);
        }

        _temp.Dispose();
    }

    [Theory]
    [InlineData("sync")]
    [InlineData("async")]
    public async Task A_child_waiting_wakes_when_the_parent_releases(string mode)
    {
        string name = NewName();
        using NamedSemaphore semaphore = NamedSemaphore.Create(name, 0, 1);
        using ChildProcess child = ChildProcess.Start("sem-wait", name, "30000", mode);
        await child.ReadyAsync();

        // The child is blocked now; nothing wakes it but the release.
        Assert.DoesNotContain("ACQUIRED", child.Lines);
        semaphore.Release();

        await child.WaitForLineAsync("ACQUIRED");
        await child.AssertExitCodeAsync(0);
        Assert.False(semaphore.TryWait());
    }

    [Fact]
    public async Task A_child_wait_times_out_with_exit_code_1()
    {
        string name = NewName();
        using NamedSemaphore semaphore = NamedSemaphore.Create(name, 0, 1);
        using ChildProcess child = ChildProcess.Start("sem-wait", name, "200");
        await child.WaitForLineAsync("TIMEOUT");
        await child.AssertExitCodeAsync(1);
    }

    [Fact]
    public async Task The_parent_wakes_when_a_child_releases()
    {
        string name = NewName();
        using NamedSemaphore semaphore = NamedSemaphore.Create(name, 0, 10);
        ValueTask<bool> wait = semaphore.TryWaitAsync(TestTimeouts.Unexpected);

        using ChildProcess child = ChildProcess.Start("sem-release", name, "3");
        await child.AssertExitCodeAsync(0);

        Assert.True(await wait);
        Assert.True(semaphore.TryWait());
        Assert.True(semaphore.TryWait());
        Assert.False(semaphore.TryWait());
    }

    [Fact]
    public async Task Traffic_light_two_processes_add_to_a_shared_file_without_losing_an_update()
    {
        const int Iterations = 400;
        string name = NewName();
        string counter = _temp.File("counter");
        File.WriteAllText(counter, "0");
        using NamedSemaphore semaphore = NamedSemaphore.Create(name, 1, 1);

        using ChildProcess first = ChildProcess.Start("sem-counter", name, counter, Iterations.ToString(CultureInfo.InvariantCulture));
        using ChildProcess second = ChildProcess.Start("sem-counter", name, counter, Iterations.ToString(CultureInfo.InvariantCulture));
        await first.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
        await second.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

        Assert.Equal(2 * Iterations, int.Parse(File.ReadAllText(counter), CultureInfo.InvariantCulture));
        Assert.True(semaphore.TryWait(), "The light should be green again after both finished.");
    }

    [SkippableTheory]
    [InlineData("000")]
    [InlineData("022")]
    [InlineData("277")]
    public async Task Created_with_mode_0600_whatever_the_umask(string umask)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "The semaphore file under /dev/shm exists on Linux only.");
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string name = NewName();
        string cli = Path.Combine(AppContext.BaseDirectory, "IpcKit.Cli.dll");
        using ChildProcess child = ChildProcess.StartProgram("/bin/sh", ["-c", $"umask {umask} && exec dotnet exec '{cli}' sem create {name} --max 4"]);
        await child.AssertExitCodeAsync(0);

        string path = IpcName.GetSemaphorePath(name)!;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path + "~free"));
    }

    [SkippableFact]
    public async Task A_post_from_a_C_program_wakes_a_dotnet_waiter_and_the_reverse()
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX semaphores only.");
        string binary = CCompiler.Compile(_temp, "sem_peer", CPeerSource);
        string name = NewName();
        using NamedSemaphore toDotnet = NamedSemaphore.Create(name, 0, 1);
        string back = NewName();
        using NamedSemaphore toC = NamedSemaphore.Create(back, 0, 1);

        // The C program opens both by their documented OS names: it posts the first, then waits on the second.
        using ChildProcess peer = ChildProcess.StartProgram(binary, [IpcName.GetSemaphoreOsName(name), IpcName.GetSemaphoreOsName(back)]);
        Assert.True(await toDotnet.TryWaitAsync(TestTimeouts.Unexpected), peer.Describe());
        await peer.WaitForLineAsync("WAITING");
        toC.Release();
        await peer.WaitForLineAsync("WOKEN");
        await peer.AssertExitCodeAsync(0);
    }

    private const string CPeerSource = """
        #include <fcntl.h>
        #include <semaphore.h>
        #include <stdio.h>
        #include <time.h>
        int main(int argc, char **argv) {
            sem_t *post = sem_open(argv[1], 0);
            sem_t *wait = sem_open(argv[2], 0);
            if (post == SEM_FAILED || wait == SEM_FAILED) { perror("sem_open"); return 5; }
            if (sem_post(post) != 0) { perror("sem_post"); return 5; }
            printf("WAITING\n"); fflush(stdout);
            struct timespec deadline; clock_gettime(CLOCK_REALTIME, &deadline); deadline.tv_sec += 30;
            if (sem_timedwait(wait, &deadline) != 0) { perror("sem_timedwait"); return 1; }
            printf("WOKEN\n"); fflush(stdout);
            return 0;
        }
        """;

    private string NewName()
    {
        string name = UniqueName.Next("xsem");
        _names.Add(name);
        return name;
    }
}
