using IpcKit.Fuzz;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Every committed fuzz input (the seed corpora in tools/fuzz/corpus and the inputs of past findings in
/// tools/fuzz/regressions) run through its target's harness in-process, without a fuzzer: this is what CI runs.
/// The harness lets only the documented exceptions of the code under test pass; the test adds a deadline (a hang fails) and a
/// bound on the bytes allocated for one input (on the harness's thread, for the targets that run there).
/// </summary>
public sealed class FuzzReplayTests : IDisposable
{
    private static readonly string s_corpus = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");
    private static readonly string s_regressions = Path.Combine(AppContext.BaseDirectory, "fuzz-regressions");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (FuzzTarget target in FuzzTargets.All)
        {
            foreach (string folder in new[] { s_corpus, s_regressions })
            {
                string path = Path.Combine(folder, target.Name);
                if (!Directory.Exists(path))
                {
                    continue;
                }

                foreach (string file in Directory.EnumerateFiles(path).Order(StringComparer.Ordinal))
                {
                    data.Add(target.Name, Path.GetRelativePath(AppContext.BaseDirectory, file));
                }
            }
        }

        return data;
    }

    public void Dispose() => FuzzTargets.Cleanup();

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task A_committed_input_keeps_the_invariant(string target, string file)
    {
        FuzzTarget fuzz = FuzzTargets.Find(target)!;
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file));

        // Type initialization and MessagePack's generated formatters are one-time costs: the second run is measured.
        // On a thread of its own, so a hang fails this input at the deadline instead of stalling the whole run; no
        // bound on speed (a loaded machine is slow, not wrong): the bytes allocated for one input are the bound on
        // work, and afl-fuzz's own timeout (tools/fuzz/run.sh) finds the slow inputs.
        long allocated = 0;
        Task run = Task.Factory.StartNew(
            () =>
            {
                fuzz.Run(input);
                long before = GC.GetAllocatedBytesForCurrentThread();
                fuzz.Run(input);
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        Assert.True(await Task.WhenAny(run, Task.Delay(TestTimeouts.Unexpected)) == run, $"{target} did not finish {file} within {TestTimeouts.Unexpected}: a hang.");
        await run;

        if (fuzz.AllocationBound is { } bound)
        {
            long limit = bound(input.Length);
            Assert.True(allocated <= limit, $"{target} allocated {allocated} bytes for {file} ({input.Length} bytes); the bound is {limit}.");
        }
    }

    [Fact]
    public void Every_target_has_a_small_committed_seed_corpus()
    {
        foreach (FuzzTarget target in FuzzTargets.All)
        {
            string folder = Path.Combine(s_corpus, target.Name);
            Assert.True(Directory.Exists(folder), $"No seed corpus for {target.Name} at {folder}.");
            string[] files = Directory.GetFiles(folder);
            Assert.True(files.Length >= 5, $"The {target.Name} corpus has {files.Length} inputs.");
            long size = files.Sum(file => new FileInfo(file).Length);
            Assert.True(size < 1024 * 1024, $"The {target.Name} corpus is {size} bytes; keep committed corpora small (afl-cmin).");
            Assert.All(files, file => Assert.True(new FileInfo(file).Length <= target.MaxInputLength, $"{file} is longer than {target.Name} takes."));
        }
    }
}
