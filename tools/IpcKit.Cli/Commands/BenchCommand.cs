using System.CommandLine;
using IpcKit.Benchmarks.Harness;

namespace IpcKit.Cli.Commands;

/// <summary><c>ipckit bench</c>: the cross-process benchmark harness of tools/IpcKit.Benchmarks.</summary>
internal static class BenchCommand
{
    internal static Command Create()
    {
        var group = new Argument<string>("GROUP")
        {
            Description = "What to measure: ring, pipe, sem, bridge (NATS; needs nats-server) or all. The raw named-pipe baseline always runs too.",
            DefaultValueFactory = _ => "all",
        };
        group.AcceptOnlyFromAmong([.. CrossProcessHarness.Groups]);
        Option<bool> json = CliOptions.JsonOutput();
        var quick = new Option<bool>("--quick") { Description = "A short run of a few seconds (small counts, one run each): a smoke test, not a measurement." };
        var runs = new Option<int>("--runs")
        {
            Description = "Runs per scenario; the figures are medians.",
            DefaultValueFactory = _ => 3,
            Validators = { r => CliOptions.RejectBelow(r, 1) },
        };
        var filter = new Option<string?>("--filter")
        {
            Description = "Only scenarios whose name or pattern contains this text (case-insensitive), for example 'ping-pong' or 'C ring'. The raw pipe baseline of the group still runs.",
        };
        var command = new Command("bench", "Measure IpcKit's transports against a raw named pipe, StreamJsonRpc, NetMQ and C, each party in its own process.")
        {
            group, json, quick, runs, filter,
        };
        command.SetAction((parse, cancellationToken) => CrossProcessHarness.RunAsync(
            new BenchmarkOptions(parse.GetValue(group)!, parse.GetValue(json), parse.GetValue(quick), parse.GetValue(runs), parse.GetValue(filter)),
            Console.Out,
            Console.Error,
            cancellationToken));
        return command;
    }
}
