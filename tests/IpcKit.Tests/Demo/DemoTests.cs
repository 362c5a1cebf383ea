using System.Globalization;
using System.Runtime.Versioning;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Demo;

/// <summary>The demo as a newcomer runs it (with smaller bursts): consumer and producer processes, every part.</summary>
public sealed class DemoTests
{
    private static readonly Dictionary<string, string> s_smallBursts = new()
    {
        ["IPCKIT_DEMO_BURST"] = "50000",
        ["IPCKIT_DEMO_PIPE_BURST"] = "5000",
    };

    [Fact]
    public async Task The_demo_runs_every_part_checks_the_hashes_and_cleans_up()
    {
        using ChildProcess demo = ChildProcess.StartDll("IpcKit.Demo.dll", [], s_smallBursts);
        await demo.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

        string output = string.Join('\n', demo.Lines);
        Assert.Contains("received toy #5 'robot'", output, StringComparison.Ordinal);
        Assert.Contains("[producer] producer", output, StringComparison.Ordinal);
        Assert.Contains("the counter is 6 after 6 turns: no update was lost", output, StringComparison.Ordinal);
        Assert.Contains("consumer", output, StringComparison.Ordinal);
        Assert.Contains("received 50,000 / 50,000", output, StringComparison.Ordinal);
        Assert.Equal(2, demo.Lines.Count(line => line.Contains(": match", StringComparison.Ordinal) && line.Contains("hash", StringComparison.Ordinal)));

        // The crash-safe light: one line says a holder was killed holding it and the consumer took it over, told so.
        string takeover = Assert.Single(demo.Lines, line => line.Contains("was killed (SIGKILL) while holding the light", StringComparison.Ordinal));
        Assert.Matches(@"^   holder (\d+) was killed \(SIGKILL\) while holding the light; consumer \d+ took it over [\d.]+ ms later and was told its holder died \(abandoned by \1\)$", takeover);
        Assert.Contains("Everything that was sent arrived.", output, StringComparison.Ordinal);
        AssertNothingLeft($"demo-{demo.Id}");
    }

    [SkippableFact]
    public async Task A_demo_stopped_with_SIGTERM_stops_its_producer_and_removes_what_it_created()
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX signals.");
        var environment = new Dictionary<string, string>(s_smallBursts) { ["IPCKIT_DEMO_BURST"] = "2000000000" };
        using ChildProcess demo = ChildProcess.StartDll("IpcKit.Demo.dll", [], environment);
        string ready = await demo.WaitForLineAsync("  producer ");
        int producer = int.Parse(ready.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        await demo.WaitForLineAsync("4. A burst");

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(0, IpcKit.Interop.Signals.Kill(demo.Id, IpcKit.Interop.Signals.SigTerm));
        }

        await demo.AssertExitCodeAsync(5);
        Assert.Contains(demo.Lines, line => line.StartsWith("Interrupted", StringComparison.Ordinal));
        Assert.False(File.Exists($"/proc/{producer}/stat") && !File.ReadAllText($"/proc/{producer}/stat").Contains(") Z", StringComparison.Ordinal),
            $"The producer {producer} outlived the demo.");
        AssertNothingLeft($"demo-{demo.Id}");
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_file_another_user_planted_at_the_demos_ring_name_makes_it_pick_another_name()
    {
        OtherUser.Require();

        // The shell's pid becomes the demo's (exec), so the squatter can plant the exact name before the demo starts.
        string dll = Path.Combine(AppContext.BaseDirectory, "IpcKit.Demo.dll");
        using ChildProcess demo = ChildProcess.StartProgram("/bin/sh", ["-c", $"read go && exec dotnet exec '{dll}'"], s_smallBursts);
        string id = $"demo-{demo.Id}";
        string planted = IpcName.GetRingPath(id);

        // And a run proven dead (its alive lock abandoned) whose ring name another user took after it died: the sweep
        // clears the dead run but leaves the other user's file.
        string dead = $"demo-{int.MaxValue - Random.Shared.Next(1000)}";
        string plantedAtDead = IpcName.GetRingPath(dead);
        using (ChildProcess deadRun = ChildProcess.Start("lock-hold", dead + ".alive"))
        {
            await deadRun.WaitForLineAsync("HELD");
            deadRun.Kill();
            await deadRun.WaitForExitAsync();
        }

        try
        {
            Assert.Equal(0, await OtherUser.RunAsync("/usr/bin/touch", planted));
            Assert.Equal(0, await OtherUser.RunAsync("/usr/bin/touch", plantedAtDead));
            demo.Input.WriteLine("go");
            demo.Input.Flush();
            await demo.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));

            Assert.Contains(demo.Lines, line => line.Contains("skipped names in use", StringComparison.Ordinal) && line.Contains(id, StringComparison.Ordinal));
            Assert.Contains(demo.Lines, line => line.Contains($"ring       {id}-2 ", StringComparison.Ordinal));
            Assert.True(File.Exists(planted), "The demo removed a file that is not its own.");
            AssertNothingLeft($"{id}-2");
            Assert.False(File.Exists(IpcName.GetLockPath(dead + ".alive")), "The dead run was not swept.");
            Assert.True(File.Exists(plantedAtDead), "The sweep removed another user's file at a dead run's ring name.");
        }
        finally
        {
            UserFolder.Delete(planted);
            UserFolder.Delete(plantedAtDead);
            UserFolder.Delete(IpcName.GetLockPath(dead + ".alive"));
        }
    }

    [SkippableFact]
    [SupportedOSPlatform("linux")]
    public async Task A_demo_killed_with_SIGKILL_is_cleaned_up_by_the_next_one_and_nothing_matched_by_pid_alone_is_touched()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "SIGKILL and /dev/shm.");
        var environment = new Dictionary<string, string>(s_smallBursts) { ["IPCKIT_DEMO_BURST"] = "2000000000" };
        string killedId;
        using (ChildProcess killed = ChildProcess.StartDll("IpcKit.Demo.dll", [], environment))
        {
            killedId = $"demo-{killed.Id}";
            await killed.WaitForLineAsync("4. A burst");
            Assert.Equal(0, IpcKit.Interop.Signals.Kill(killed.Id, IpcKit.Interop.Signals.SigKill));
            await killed.WaitForExitAsync();
        }

        // The killed consumer's paired producer dies with it; its ring, lock files, counter and socket stay behind.
        Assert.True(File.Exists(IpcName.GetRingPath(killedId)));

        // A ring named like a demo's whose run cannot be proven dead (no alive lock): a pid alone proves nothing.
        string unproven = $"demo-{int.MaxValue - Random.Shared.Next(1000)}";
        RingBuffer.Create(unproven);
        try
        {
            using ChildProcess next = ChildProcess.StartDll("IpcKit.Demo.dll", [], s_smallBursts);
            await next.AssertExitCodeAsync(0, TimeSpan.FromMinutes(2));
            AssertNothingLeft(killedId);
            AssertNothingLeft($"demo-{next.Id}");
            Assert.True(RingBuffer.Exists(unproven), "The demo removed a ring it could not prove its own.");
        }
        finally
        {
            RingBuffer.Delete(unproven);
        }
    }

    private static void AssertNothingLeft(string id)
    {
        if (Directory.Exists("/dev/shm"))
        {
            Assert.Empty(Directory.GetFiles("/dev/shm", $"*{id}").Concat(Directory.GetFiles("/dev/shm", $"*{id}~*")));
        }

        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"*{id}.*"));
        string folder = Path.GetDirectoryName(IpcName.GetLockPath("x"))!;
        if (Directory.Exists(folder))
        {
            Assert.Empty(Directory.GetFiles(folder, $"{id}.*").Concat(Directory.GetFiles(folder, $"{id}-light.*")));
        }

        Assert.False(File.Exists(IpcName.GetPipePath(id)), "The demo's pipe socket is still there.");
    }
}
