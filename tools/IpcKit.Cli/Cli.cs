using System.CommandLine;
using System.CommandLine.Help;

namespace IpcKit.Cli;

/// <summary>Parsing, invocation and the mapping of every failure to an <see cref="IpcExitCode"/>.</summary>
internal static class Cli
{
    internal static async Task<int> RunAsync(Command root, string[] args)
    {
        ParseResult parse = root.Parse(args);

        // A parse error is "bad arguments" (2), not System.CommandLine's default of 1, which means "timed out" here.
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            foreach (var error in parse.Errors)
            {
                Console.Error.WriteLine($"ipckit: {error.Message}");
            }

            Console.Error.WriteLine("Run 'ipckit --help' or add --help to a verb for its usage.");
            return (int)IpcExitCode.InvalidArguments;
        }

        try
        {
            // The default handler would print a stack trace and return 1; we print one line and map the code.
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("ipckit: interrupted.");
            return (int)IpcExitCode.Error;
        }
        catch (Exception exception)
        {
            IpcExitCode code = IpcExitCodes.FromException(exception);
            Console.Error.WriteLine($"ipckit: {Describe(code)}: {exception.Message}");
            if (code == IpcExitCode.Error && Environment.GetEnvironmentVariable("IPCKIT_TRACE") == "1")
            {
                Console.Error.WriteLine(exception);
            }

            return (int)code;
        }
    }

    private static string Describe(IpcExitCode code) => code switch
    {
        IpcExitCode.TimedOut => "timed out",
        IpcExitCode.InvalidArguments => "invalid argument",
        IpcExitCode.PeerGone => "peer gone",
        IpcExitCode.Corrupted => "corrupted data",
        _ => "error",
    };
}
