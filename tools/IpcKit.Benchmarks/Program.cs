using BenchmarkDotNet.Running;
using IpcKit.Benchmarks.Children;
using IpcKit.Benchmarks.Harness;

// IpcKit.Benchmarks [ring|pipe|sem|all] [--json] [--quick] [--runs N]   the cross-process harness
// IpcKit.Benchmarks micro [BenchmarkDotNet arguments]                  in-process micro-benchmarks
// IpcKit.Benchmarks child ROLE ARGS                                    one measured party (started by the harness)
if (args.Length > 0 && args[0] == "child")
{
    return Child.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(CrossProcessHarness).Assembly).Run(args[1..]);
    return 0;
}

string group = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
int runsIndex = Array.IndexOf(args, "--runs");
int runs = runsIndex >= 0 && runsIndex + 1 < args.Length ? int.Parse(args[runsIndex + 1], System.Globalization.CultureInfo.InvariantCulture) : 3;
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
return await CrossProcessHarness.RunAsync(new BenchmarkOptions(group, args.Contains("--json"), args.Contains("--quick"), runs), Console.Out, Console.Error, cancellation.Token);
