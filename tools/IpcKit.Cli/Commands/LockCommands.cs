using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using IpcKit.Synchronization;

namespace IpcKit.Cli.Commands;

/// <summary><c>ipckit lock</c>: run a command while holding a crash-safe named lock (like flock(1)), and inspect a lock.</summary>
internal static class LockCommands
{
    /// <summary>Set for the command <c>lock run</c> starts: which lease it holds, and whether a holder died with it before.</summary>
    internal const string LeaseVariable = "IPCKIT_LOCK_LEASE";
    internal const string AbandonedVariable = "IPCKIT_LOCK_ABANDONED";

    internal static Command Create()
    {
        var command = new Command("lock", "Crash-safe named locks: a holder that dies, however it dies, releases at once.");
        command.Subcommands.Add(RunVerb());
        command.Subcommands.Add(InfoVerb());
        return command;
    }

    private static Command RunVerb()
    {
        Argument<string> name = CliOptions.Name("lock");
        var program = new Argument<string[]>("COMMAND")
        {
            Description = "The command and its arguments, after '--'.",
            Arity = ArgumentArity.OneOrMore,
        };
        Option<int> timeout = CliOptions.TimeoutMilliseconds("the lock");
        var leases = new Option<int>("--leases")
        {
            Description = $"How many holders the lock admits at once (1 to {NamedLockOptions.MaxLeases}); every user of a name must give the same number.",
            DefaultValueFactory = _ => 1,
            Validators = { result => CliOptions.RejectBelow(result, 1) },
        };
        var command = new Command(
            "run",
            $"Run COMMAND while holding the lock (or one of its leases), as flock(1) does: exits with the command's exit code, or 1 if the timeout passes first. The command gets {LeaseVariable} (the lease) and {AbandonedVariable}=1 when the previous holder died holding it.")
        {
            name, timeout, leases, program,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string lockName = parse.GetValue(name)!;
            string[] arguments = parse.GetValue(program)!;
            int milliseconds = parse.GetValue(timeout);
            using var named = new NamedLock(lockName, new NamedLockOptions { Leases = parse.GetValue(leases) });
            LockLease? lease = await named.TryAcquireAsync(CliOptions.ToTimeout(milliseconds), cancellationToken);
            if (lease is null)
            {
                Console.Error.WriteLine($"ipckit: timed out: {named} stayed held for {milliseconds} ms.");
                return (int)IpcExitCode.TimedOut;
            }

            using (lease)
            {
                if (lease.Abandoned)
                {
                    Console.Error.WriteLine($"ipckit: {lockName}: the previous holder, process {lease.AbandonedBy}, died holding it.");
                }

                var start = new ProcessStartInfo(arguments[0]) { UseShellExecute = false };
                foreach (string argument in arguments.Skip(1))
                {
                    start.ArgumentList.Add(argument);
                }

                start.Environment[LeaseVariable] = lease.Index.ToString(CultureInfo.InvariantCulture);
                start.Environment[AbandonedVariable] = lease.Abandoned ? "1" : "0";
                using Process child = Process.Start(start)!;

                // Not cancelled with ipckit: a Ctrl-C from the terminal reaches the command itself, and the lock is held
                // until the command has ended, whatever ended it.
                await child.WaitForExitAsync(CancellationToken.None);
                return child.ExitCode;
            }
        });
        return command;
    }

    private static Command InfoVerb()
    {
        Argument<string> name = CliOptions.Name("lock");
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("info", "Show the lock file, its leases with their holders (pids) and abandoned leases, and the waiters (Linux).") { name, json };
        command.SetAction(parse =>
        {
            string lockName = parse.GetValue(name)!;
            NamedLockInfo? info = NamedLock.GetInfo(lockName);
            var holders = info?.LeaseStates.Where(lease => lease.State != LockLeaseState.Free)
                .Select(lease => new
                {
                    lease = lease.Index,
                    state = lease.State == LockLeaseState.Held ? "held" : "abandoned",
                    pid = lease.ProcessId,
                    since = lease.Since?.ToString("O", CultureInfo.InvariantCulture),
                })
                .ToArray() ?? [];
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(new
                {
                    name = lockName,
                    path = IpcName.GetLockPath(lockName),
                    exists = info is not null,
                    leases = info?.Leases,
                    held = info?.Holders.Count() ?? 0,
                    waiters = info?.Waiters ?? 0,
                    holders,
                });
                return 0;
            }

            Console.Out.WriteLine($"name:    {lockName}");
            Console.Out.WriteLine($"path:    {IpcName.GetLockPath(lockName)}{(info is null ? " (none: nobody uses this lock)" : "")}");
            if (info is not null)
            {
                Console.Out.WriteLine($"leases:  {info.Leases}");
                Console.Out.WriteLine($"held:    {info.Holders.Count()}");
                Console.Out.WriteLine($"waiters: {info.Waiters}");
                foreach (var holder in holders)
                {
                    Console.Out.WriteLine($"lease {holder.lease}: {holder.state} by process {holder.pid?.ToString(CultureInfo.InvariantCulture) ?? "(not known)"}{(holder.since is null ? "" : $" since {holder.since}")}");
                }
            }

            return 0;
        });
        return command;
    }
}
