using System.CommandLine;
using IpcKit.Cli;
using IpcKit.Cli.Commands;

// ipckit: one command line for scripts. Every verb ends with the same exit codes (IpcExitCode):
// 0 success, 1 timed out, 2 bad arguments or invalid name, 3 peer gone, 4 data corrupted or protocol violation,
// 5 any other error (message on stderr).
var root = new RootCommand("ipckit: drive IpcKit semaphores, shared-memory rings and pipe channels from scripts.");
root.Subcommands.Add(SemCommands.Create());
root.Subcommands.Add(PipeCommands.Create());

return await Cli.RunAsync(root, args);
