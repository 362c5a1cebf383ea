using IpcKit.Benchmarks.Children;
using IpcKit.Benchmarks.Harness;

// IpcKit.Benchmarks [ring|pipe|sem|all] [--json] [--quick] [--runs N] [--filter TEXT]   the cross-process harness
// (in-process micro-benchmarks: tools/IpcKit.Benchmarks.Micro)
// IpcKit.Benchmarks child ROLE ARGS                                    one measured party (started by the harness)
if (args.Length > 0 && args[0] == "child")
{
    return Child.Run(args[1..]);
}

string? Value(string option) => Array.IndexOf(args, option) is int i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
string? filter = Value("--filter");
string group = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal) && a != filter && a != Value("--runs")) ?? "all";
int runs = Value("--runs") is string text ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 3;
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
return await CrossProcessHarness.RunAsync(new BenchmarkOptions(group, args.Contains("--json"), args.Contains("--quick"), runs, filter), Console.Out, Console.Error, cancellation.Token);
