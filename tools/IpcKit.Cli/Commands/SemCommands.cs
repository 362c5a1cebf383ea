using System.CommandLine;
using IpcKit.Synchronization;

namespace IpcKit.Cli.Commands;

/// <summary><c>ipckit sem</c>: create, wait on, release, inspect and delete named semaphores.</summary>
internal static class SemCommands
{
    internal static Command Create()
    {
        var sem = new Command("sem", "Named semaphores shared between processes.");
        sem.Subcommands.Add(CreateVerb());
        sem.Subcommands.Add(WaitVerb());
        sem.Subcommands.Add(ReleaseVerb());
        sem.Subcommands.Add(DeleteVerb());
        sem.Subcommands.Add(InfoVerb());
        return sem;
    }

    private static Command CreateVerb()
    {
        Argument<string> name = CliOptions.Name("semaphore");
        var initial = new Option<int>("--initial") { Description = "The count it starts with.", DefaultValueFactory = _ => 0 };
        var max = new Option<int>("--max") { Description = "The highest count a release may reach.", DefaultValueFactory = _ => int.MaxValue };
        var command = new Command("create", "Create a semaphore; fails if the name exists. It stays until 'ipckit sem delete' (on Windows, until its last handle closes).")
        {
            name, initial, max,
        };
        command.SetAction(parse =>
        {
            using NamedSemaphore semaphore = NamedSemaphore.Create(parse.GetValue(name)!, parse.GetValue(initial), parse.GetValue(max));
            Console.Out.WriteLine($"created {semaphore.Name} ({IpcName.GetSemaphoreOsName(semaphore.Name)})");
            return 0;
        });
        return command;
    }

    private static Command WaitVerb()
    {
        Argument<string> name = CliOptions.Name("semaphore");
        Option<int> timeout = CliOptions.TimeoutMilliseconds("a count");
        var command = new Command("wait", "Take one count, waiting for it; exit code 1 if the timeout passes first.") { name, timeout };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using NamedSemaphore semaphore = NamedSemaphore.Open(parse.GetValue(name)!);
            bool taken = await semaphore.TryWaitAsync(CliOptions.ToTimeout(parse.GetValue(timeout)), cancellationToken);
            if (!taken)
            {
                Console.Error.WriteLine($"ipckit: timed out: no count on {semaphore} within {parse.GetValue(timeout)} ms.");
                return (int)IpcExitCode.TimedOut;
            }

            Console.Out.WriteLine($"acquired {semaphore.Name}");
            return 0;
        });
        return command;
    }

    private static Command ReleaseVerb()
    {
        Argument<string> name = CliOptions.Name("semaphore");
        Option<int> count = CliOptions.Count("How many counts to add.", 1);
        var command = new Command("release", "Add counts, waking waiters; fails (code 5) past the maximum.") { name, count };
        command.SetAction(parse =>
        {
            using NamedSemaphore semaphore = NamedSemaphore.Open(parse.GetValue(name)!);
            semaphore.Release(parse.GetValue(count));
            Console.Out.WriteLine($"released {semaphore.Name} x{parse.GetValue(count)}");
            return 0;
        });
        return command;
    }

    private static Command DeleteVerb()
    {
        Argument<string> name = CliOptions.Name("semaphore");
        var command = new Command("delete", "Remove the semaphore's OS object; processes that have it open keep it.") { name };
        command.SetAction(parse =>
        {
            string semaphoreName = parse.GetValue(name)!;
            if (!NamedSemaphore.Delete(semaphoreName))
            {
                throw new IpcNotFoundException(semaphoreName, $"Cannot delete named semaphore '{semaphoreName}': it does not exist.");
            }

            Console.Out.WriteLine($"deleted {semaphoreName}");
            return 0;
        });
        return command;
    }

    private static Command InfoVerb()
    {
        Argument<string> name = CliOptions.Name("semaphore");
        Option<bool> json = CliOptions.JsonOutput();
        var command = new Command("info", "Show the OS name, the backing file (Linux), the current count and the maximum (2147483647: no maximum), the same values in text and JSON.") { name, json };
        command.SetAction(parse =>
        {
            using NamedSemaphore semaphore = NamedSemaphore.Open(parse.GetValue(name)!);
            var info = new
            {
                name = semaphore.Name,
                osName = IpcName.GetSemaphoreOsName(semaphore.Name),
                path = IpcName.GetSemaphorePath(semaphore.Name),
                value = semaphore.GetCurrentCount(),
                maximum = semaphore.MaximumCount,
            };
            if (parse.GetValue(json))
            {
                CliOptions.WriteJson(info);
            }
            else
            {
                Console.Out.WriteLine($"name:    {info.name}");
                Console.Out.WriteLine($"os name: {info.osName}");
                Console.Out.WriteLine($"path:    {info.path ?? "(none on this OS)"}");
                Console.Out.WriteLine($"value:   {info.value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(not readable on this OS)"}");
                // The same number as the JSON (2147483647 is int.MaxValue, the count a semaphore without a maximum may reach).
                Console.Out.WriteLine($"maximum: {info.maximum?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(not known on this OS)"}");
            }

            return 0;
        });
        return command;
    }
}
