using System.Diagnostics;
using System.Globalization;
using IpcKit.Hosting;

namespace IpcKit.Tests.Child;

/// <summary>Paired children (and one paired parent) for the hosting tests. Each prints PID first.</summary>
internal static class HostingScenarios
{
    /// <summary>
    /// host-echo [EXIT_CODE [ARGS...]]: prints its channels (CHANNEL KEY=NAME), arguments (ARG ...), how many pairing
    /// variables it still sees (PAIRVARS n) and its parent (PARENT pid), signals ready, waits for the stop request,
    /// prints STOPPING (or PARENT-DIED) and exits with EXIT_CODE.
    /// </summary>
    [Scenario("host-echo")]
    internal static async Task<int> EchoAsync(string[] args)
    {
        PairedChild pair = PairedChild.Attach();
        PrintPid();
        foreach ((string key, string name) in pair.Channels.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            Console.Out.WriteLine($"CHANNEL {key}={name}");
        }

        foreach (string argument in args.Skip(1))
        {
            Console.Out.WriteLine($"ARG {argument}");
        }

        int pairingVariables = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Count(key => key.StartsWith("IPCKIT_PAIR_", StringComparison.Ordinal));
        Console.Out.WriteLine($"PAIRVARS {pairingVariables}");
        Console.Out.WriteLine($"PARENT {pair.ParentProcessId}");
        try
        {
            pair.GetChannel("missing");
        }
        catch (IpcNotFoundException exception)
        {
            Console.Out.WriteLine($"MISSING-CHANNEL {exception.Name}");
        }

        pair.SignalReady();
        await WaitForStopAsync(pair);
        Console.Out.WriteLine(pair.ParentDied ? "PARENT-DIED" : "STOPPING");
        return args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>host-never-ready: writes to stderr and waits for the stop request without ever signalling ready.</summary>
    [Scenario("host-never-ready")]
    internal static async Task<int> NeverReadyAsync(string[] args)
    {
        PairedChild pair = PairedChild.Attach();
        PrintPid();
        Console.Error.WriteLine("not ready yet: waiting for something that never comes");
        await WaitForStopAsync(pair);
        return 0;
    }

    /// <summary>host-crash CODE: writes a last word to stderr and exits with CODE before signalling ready.</summary>
    [Scenario("host-crash")]
    internal static Task<int> CrashAsync(string[] args)
    {
        PairedChild.Attach();
        PrintPid();
        Console.Error.WriteLine("starting up");
        Console.Error.WriteLine("boom: the child failed before it was ready");
        return Task.FromResult(int.Parse(args[0], CultureInfo.InvariantCulture));
    }

    /// <summary>host-exit CODE LINES: signals ready, writes LINES lines "err N" to stderr, prints DONE, exits with CODE.</summary>
    [Scenario("host-exit")]
    internal static Task<int> ExitAsync(string[] args)
    {
        PairedChild pair = PairedChild.Attach();
        PrintPid();
        pair.SignalReady();
        int lines = int.Parse(args[1], CultureInfo.InvariantCulture);
        for (int i = 1; i <= lines; i++)
        {
            Console.Error.WriteLine($"err {i}");
        }

        Console.Out.WriteLine("DONE");
        return Task.FromResult(int.Parse(args[0], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// host-tree ignore|obey: starts a grandchild ("sleep 600", which watches nothing), prints GRANDCHILD pid and
    /// signals ready; "ignore" then ignores the stop request, "obey" exits 0 on it and leaves the grandchild behind.
    /// </summary>
    [Scenario("host-tree")]
    internal static async Task<int> TreeAsync(string[] args)
    {
        PairedChild pair = PairedChild.Attach();
        PrintPid();
        using (Process grandchild = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!)
        {
            Console.Out.WriteLine($"GRANDCHILD {grandchild.Id}");
        }

        pair.SignalReady();
        if (args[0] == "ignore")
        {
            await Task.Delay(Timeout.Infinite);
        }

        await WaitForStopAsync(pair);
        Console.Out.WriteLine("STOPPING");
        return 0;
    }

    /// <summary>
    /// host-parent [PROGRAM ARGS...]: a paired parent in its own process. Starts host-echo as its paired child (or,
    /// given PROGRAM, that plain program, which never attaches), prints CHILD pid and READY, then waits to be killed
    /// (the test SIGKILLs it and watches the child exit).
    /// </summary>
    [Scenario("host-parent")]
    internal static async Task<int> ParentAsync(string[] args)
    {
        bool plain = args.Length > 0;
        var options = new PairedProcessOptions
        {
            FileName = plain ? args[0] : Path.Combine(AppContext.BaseDirectory, "IpcKit.Tests.Child.dll"),
            OnStandardOutputLine = line => Console.Out.WriteLine($"child: {line}"),
            ReadyTimeout = TimeSpan.FromSeconds(30),
            WaitForReady = !plain,
        };
        foreach (string argument in plain ? args[1..] : ["host-echo"])
        {
            options.Arguments.Add(argument);
        }

        await using PairedProcess child = await PairedProcess.StartAsync(options);
        Console.Out.WriteLine($"CHILD {child.Id}");
        Scenarios.Ready();
        await Task.Delay(Timeout.Infinite);
        return 0;
    }

    private static void PrintPid() => Console.Out.WriteLine($"PID {Environment.ProcessId}");

    private static async Task WaitForStopAsync(PairedChild pair)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, pair.StopRequested);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
