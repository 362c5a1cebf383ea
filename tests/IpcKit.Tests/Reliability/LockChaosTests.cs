using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IpcKit.Synchronization;
using Xunit.Abstractions;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Three processes take a named lock in a loop while the test SIGKILLs one at a random moment and starts another. Each
/// worker, holding the lock, checks and sets an owner word in a shared file (scenario lock-chaos). Afterwards: the
/// lock was never held by two (a worker finding someone else's owner word exits 4, unless its lease says that very
/// process died holding it); it was never lost (the workers went on after every kill); every worker killed while it
/// held the lock was reported dead by the next owner (Abandoned), and no live or never-killed process ever was.
/// </summary>
[Collection(nameof(ReliabilityLoadCollection))]
public sealed class LockChaosTests(ITestOutputHelper output)
{
    private const int Workers = 3;

    /// <summary>IPCKIT_CHAOS_SECONDS as for the other chaos tests when set (the long form); 8 s in the suite.</summary>
    private static TimeSpan Duration =>
        Environment.GetEnvironmentVariable("IPCKIT_CHAOS_SECONDS") is { Length: > 0 } ? ReliabilitySettings.ChaosDuration : TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Holders_killed_at_random_never_lose_the_lock_never_share_it_and_every_next_owner_is_told()
    {
        int seed = ReliabilitySettings.Seed;
        var random = new Random(seed);
        using var folder = new TempDirectory();
        string name = UniqueName.Next("chaoslock");
        string words = folder.File("owner");
        File.WriteAllBytes(words, new byte[4096]);

        var started = new List<ChildProcess>();
        var killed = new HashSet<int>();
        var killedHolding = new List<int>();
        ChildProcess Start(int slot)
        {
            var child = ChildProcess.Start("lock-chaos", name, words, slot.ToString(CultureInfo.InvariantCulture));
            started.Add(child);
            return child;
        }

        var workers = Enumerable.Range(0, Workers).Select(Start).ToArray();
        try
        {
            foreach (ChildProcess worker in workers)
            {
                await worker.ReadyAsync();
            }

            var clock = Stopwatch.StartNew();
            // At least a few kills, two of them of a holder, even when the dice or a loaded machine are slow to give them.
            while ((clock.Elapsed < Duration || killed.Count < 3 || killedHolding.Count < 2) && clock.Elapsed < 4 * Duration)
            {
                await Task.Delay(random.Next(20, 300));
                int slot = random.Next(Workers);
                ChildProcess victim = workers[slot];
                victim.Kill();
                await victim.WaitForExitAsync();
                killed.Add(victim.Id);

                // The victim's own word says it died between taking the lock and giving it back (nobody else writes it).
                if (Read(words).Holding[slot])
                {
                    killedHolding.Add(victim.Id);
                }

                workers[slot] = Start(slot);
                await workers[slot].ReadyAsync();
                await ProgressAsync(words, victim.Id, started);
            }

            foreach (ChildProcess worker in workers)
            {
                worker.Input.Close();
            }

            long acquisitions = 0;
            foreach (ChildProcess worker in workers)
            {
                acquisitions += long.Parse((await worker.WaitForLineAsync("DONE")).Split(' ')[1], CultureInfo.InvariantCulture);
                await worker.AssertExitCodeAsync(0);
            }

            var reports = started.SelectMany(child => child.Lines)
                .Where(line => line.StartsWith("ABANDONED ", StringComparison.Ordinal))
                .Select(line => int.Parse(line["ABANDONED ".Length..], CultureInfo.InvariantCulture))
                .ToList();
            string doubles = string.Join('\n', started.SelectMany(child => child.Lines).Where(line => line.StartsWith("DOUBLE", StringComparison.Ordinal)));
            Assert.True(doubles.Length == 0, $"The lock was held by two (seed {seed}):\n{doubles}");
            Assert.All(reports, pid => Assert.Contains(pid, killed));
            Assert.Equal(reports.Count, reports.Distinct().Count());
            Assert.NotEmpty(killedHolding);
            Assert.All(killedHolding, pid => Assert.True(reports.Contains(pid), $"Process {pid} was killed holding the lock, and no next owner was told (seed {seed})."));

            // Every mark was consumed, so the last user removes the file.
            using (var named = new NamedLock(name))
            using (LockLease lease = named.Acquire(TestTimeouts.Unexpected))
            {
                Assert.False(lease.Abandoned);
            }

            Assert.False(File.Exists(IpcName.GetLockPath(name)), "The lock file outlived its last user.");
            ReliabilitySettings.Report(output, "chaos.md", string.Create(CultureInfo.InvariantCulture,
                $"Lock chaos ({Duration.TotalSeconds:F0} s, seed {seed}): {killed.Count} workers killed, {killedHolding.Count} of them holding the lock, {reports.Count} next owners told Abandoned, {Read(words).Count} acquisitions in all ({acquisitions} by the workers alive at the end), never held by two."));
        }
        finally
        {
            started.ForEach(child => child.Dispose());
        }
    }

    /// <summary>Waits until the workers took the lock at least a few more times: it was not lost with the process just killed.</summary>
    private static async Task ProgressAsync(string words, int victim, List<ChildProcess> started)
    {
        int before = Read(words).Count;
        var deadline = Stopwatch.StartNew();
        while (Read(words).Count < before + 10)
        {
            if (deadline.Elapsed > TestTimeouts.Unexpected)
            {
                Assert.Fail($"Nobody took the lock for {TestTimeouts.Unexpected} after process {victim} was killed. {string.Join("\n", started.Select(child => child.Describe()))}");
            }

            // Polling shared memory with a deadline: the counter has no event to wait on.
            await Task.Delay(5);
        }
    }

    private static (int Owner, int Count, bool[] Holding) Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        byte[] head = new byte[4 * (4 + Workers)];
        file.ReadExactly(head);
        bool[] holding = [.. Enumerable.Range(0, Workers).Select(slot => BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(4 * (4 + slot))) != 0)];
        return (BinaryPrimitives.ReadInt32LittleEndian(head), BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(4)), holding);
    }
}
