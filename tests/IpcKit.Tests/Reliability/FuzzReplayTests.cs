using System.Diagnostics;
using IpcKit.Fuzz;

namespace IpcKit.Tests.Reliability;

/// <summary>
/// Every committed fuzz input (the seed corpora in tools/fuzz/corpus and the inputs of past findings in
/// tools/fuzz/regressions) run through its target's harness in-process, without a fuzzer: this is what CI runs.
/// The harness lets only the documented exceptions of the code under test pass; the test adds bounds on time and on
/// the bytes allocated for one input (on the calling thread, for the targets that run there).
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
    public void A_committed_input_keeps_the_invariant(string target, string file)
    {
        FuzzTarget fuzz = FuzzTargets.Find(target)!;
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file));

        // Type initialization and MessagePack's generated formatters are one-time costs: the second run is measured.
        fuzz.Run(input);
        var watch = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        fuzz.Run(input);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        watch.Stop();

        Assert.True(watch.Elapsed < fuzz.TimeBound, $"{target} took {watch.Elapsed} for {file} (bound {fuzz.TimeBound}).");
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
