using System.CommandLine;
using System.CommandLine.Help;
using IpcKit.Cli;
using IpcKit.Cli.Commands;

// ipckit: one command line for scripts. Every verb ends with the same exit codes (IpcExitCode):
// 0 success, 1 timed out, 2 bad arguments or invalid name, 3 peer gone, 4 data corrupted or protocol violation,
// 5 any other error (message on stderr).
// A plain Command rather than RootCommand, whose name would be the dll's ("IpcKit.Cli") instead of the tool's.
var root = new Command("ipckit", "ipckit: drive IpcKit semaphores, locks, shared-memory rings and pipe channels from scripts.")
{
    new HelpOption(),
    new VersionOption(),
};
root.Subcommands.Add(SemCommands.Create());
root.Subcommands.Add(LockCommands.Create());
root.Subcommands.Add(RingCommands.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PipeCommands.Create());
root.Subcommands.Add(GatewayCommand.Create());
root.Subcommands.Add(BridgeCommand.Create());

return await Cli.RunAsync(root, args);
