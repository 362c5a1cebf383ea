using System.Diagnostics;
using IpcKit.Fuzz;
using SharpFuzz;

// IpcKit.Fuzz TARGET                  run under afl-fuzz: SharpFuzz's fork server feeds one input per execution
// IpcKit.Fuzz TARGET FILE|DIR...      run each input once, print its outcome (triage of a finding)
// IpcKit.Fuzz seed TARGET DIR         write the built-in seed inputs (how tools/fuzz/corpus/TARGET was made)
// IpcKit.Fuzz list                    the targets
// tools/fuzz/run.sh builds, instruments and runs this; see docs/reliability.md.
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: IpcKit.Fuzz TARGET [FILE|DIR...] | seed TARGET DIR | list");
    return 2;
}

if (args[0] == "list")
{
    foreach (FuzzTarget each in FuzzTargets.All)
    {
        Console.WriteLine($"{each.Name,-14} {each.Description}");
    }

    return 0;
}

if (args[0] == "seed")
{
    FuzzTarget seeded = FuzzTargets.Find(args[1]) ?? throw new ArgumentException($"unknown target {args[1]}");
    Directory.CreateDirectory(args[2]);
    foreach ((string name, byte[] bytes) in Seeds.For(seeded.Name))
    {
        File.WriteAllBytes(Path.Combine(args[2], name), bytes);
    }

    RingTarget.Cleanup();
    return 0;
}

FuzzTarget? target = FuzzTargets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"unknown target '{args[0]}'; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

if (args.Length > 1)
{
    int failures = 0;
    foreach (string file in args[1..].SelectMany(path => Directory.Exists(path) ? Directory.EnumerateFiles(path).Order() : (IEnumerable<string>)[path]))
    {
        byte[] input = File.ReadAllBytes(file);
        var watch = Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            target.Run(input);
            Console.WriteLine($"ok    {file} ({input.Length} bytes, {watch.Elapsed.TotalMilliseconds:F1} ms, {GC.GetAllocatedBytesForCurrentThread() - before} bytes allocated)");
        }
        catch (Exception exception)
        {
            failures++;
            Console.WriteLine($"FAIL  {file}: {exception}");
        }
    }

    RingTarget.Cleanup();
    return failures == 0 ? 0 : 1;
}

// Under afl-fuzz: every exception that escapes the harness is a crash (an undocumented exception, or a broken
// invariant); a hang is the harness's own deadline or afl-fuzz's -t.
Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    ReadOnlySpan<byte> input = copy.GetBuffer().AsSpan(0, (int)copy.Length);
    target.Run(input.Length > target.MaxInputLength ? input[..target.MaxInputLength] : input);
});
return 0;
