using System.Globalization;
using IpcKit.Synchronization;

namespace IpcKit.Tests.Child;

internal static class SemaphoreScenarios
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>sem-wait NAME TIMEOUT_MS [async]: opens, prints READY, waits; prints ACQUIRED (exit 0) or TIMEOUT (exit 1).</summary>
    [Scenario("sem-wait")]
    internal static async Task<int> WaitAsync(string[] args)
    {
        using NamedSemaphore semaphore = NamedSemaphore.Open(args[0]);
        var timeout = TimeSpan.FromMilliseconds(int.Parse(args[1], CultureInfo.InvariantCulture));
        bool useAsync = args.Length > 2 && args[2] == "async";
        Scenarios.Ready();
        bool acquired = useAsync ? await semaphore.TryWaitAsync(timeout) : semaphore.TryWait(timeout);
        Console.Out.WriteLine(acquired ? "ACQUIRED" : "TIMEOUT");
        return acquired ? 0 : 1;
    }

    /// <summary>
    /// sem-counter NAME FILE N: N times, inside the semaphore, reads the number in FILE, adds 1, writes it back.
    /// Without mutual exclusion two such processes lose updates.
    /// </summary>
    [Scenario("sem-counter")]
    internal static Task<int> CounterAsync(string[] args)
    {
        using NamedSemaphore semaphore = NamedSemaphore.Open(args[0]);
        string path = args[1];
        int iterations = int.Parse(args[2], CultureInfo.InvariantCulture);
        Scenarios.Ready();
        for (int i = 0; i < iterations; i++)
        {
            if (!semaphore.TryWait(Deadline))
            {
                Console.Error.WriteLine($"no turn within {Deadline} at iteration {i}");
                return Task.FromResult(1);
            }

            try
            {
                int value = int.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture);
                File.WriteAllText(path, (value + 1).ToString(CultureInfo.InvariantCulture));
            }
            finally
            {
                semaphore.Release();
            }
        }

        Console.Out.WriteLine("DONE");
        return Task.FromResult(0);
    }

    /// <summary>sem-release NAME COUNT: opens and releases COUNT.</summary>
    [Scenario("sem-release")]
    internal static Task<int> ReleaseAsync(string[] args)
    {
        using NamedSemaphore semaphore = NamedSemaphore.Open(args[0]);
        semaphore.Release(int.Parse(args[1], CultureInfo.InvariantCulture));
        Console.Out.WriteLine("RELEASED");
        return Task.FromResult(0);
    }

    /// <summary>
    /// sem-churn NAME: creates and deletes the semaphore NAME (with its maximum, so both files) over and over until it is
    /// killed; prints READY after the first hundred rounds. A kill lands in the middle of a create sooner or later.
    /// </summary>
    [Scenario("sem-churn")]
    internal static Task<int> ChurnAsync(string[] args)
    {
        // An earlier churner was killed between its create and its delete.
        NamedSemaphore.Delete(args[0]);
        for (long round = 1; ; round++)
        {
            using (NamedSemaphore.Create(args[0], 1, 2))
            {
            }

            NamedSemaphore.Delete(args[0]);
            if (round == 100)
            {
                Scenarios.Ready();
            }
        }
    }
}
