using IpcKit.Tests.Child;

// The child side of cross-process tests: "IpcKit.Tests.Child <scenario> [args...]".
// A scenario prints READY when it is set up, then its results, and ends with an IpcExitCode.
if (args.Length == 0 || !Scenarios.All.TryGetValue(args[0], out Func<string[], Task<int>>? scenario))
{
    Console.Error.WriteLine($"usage: IpcKit.Tests.Child <scenario> [args...]; scenarios: {string.Join(", ", Scenarios.All.Keys.Order())}");
    return 2;
}

ParentWatch.ExitWhenParentDies();
try
{
    return await scenario(args[1..]);
}
catch (Exception exception)
{
    Console.Error.WriteLine($"{exception.GetType().FullName}: {exception.Message}");
    return (int)IpcKit.IpcExitCodes.FromException(exception);
}
