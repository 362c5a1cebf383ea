using System.Diagnostics;
using System.Globalization;
using IpcKit.Hosting;
using IpcKit.Synchronization;

namespace IpcKit.Demo;

/// <summary>
/// The crash in part 2: a third process takes the light and is killed with SIGKILL while it holds it. The kernel
/// releases the lock at once; the consumer takes it and is told the holder died (<see cref="LockLease.Abandoned"/>).
/// </summary>
internal static class Holder
{
    public const string Role = "holder";

    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(30);

    /// <summary>The holder process: takes the light, says so, and holds it until it is killed (or the consumer stops it).</summary>
    public static async Task<int> RunAsync()
    {
        PairedChild pairing = PairedChild.Attach();
        using var light = new NamedLock(pairing.GetChannel(DemoChannels.Light));
        using LockLease lease = await light.AcquireAsync(s_deadline, pairing.StopRequested);
        pairing.SignalReady();
        try
        {
            await Task.Delay(Timeout.Infinite, pairing.StopRequested);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }

    /// <summary>Starts a holder, kills it while it holds the light, takes the light over, and prints one line saying so.</summary>
    public static async Task<bool> ShowTakeoverAsync(DemoNames names, NamedLock light, string me, CancellationToken cancellationToken)
    {
        var options = new PairedProcessOptions
        {
            FileName = typeof(Holder).Assembly.Location,
            ReadyTimeout = s_deadline,
            OnStandardErrorLine = line => Console.Error.WriteLine($"   [holder] {line}"),
        };
        options.Arguments.Add(Role);
        options.Channels[DemoChannels.Light] = names.Light;
        await using PairedProcess holder = await PairedProcess.StartAsync(options, cancellationToken);

        // SIGKILL: the holder gets no chance to release anything; only the kernel can give the lock back.
        using (Process process = Process.GetProcessById(holder.Id))
        {
            process.Kill();
        }

        long killed = Stopwatch.GetTimestamp();
        using LockLease lease = await light.AcquireAsync(s_deadline, cancellationToken);
        double milliseconds = Stopwatch.GetElapsedTime(killed).TotalMilliseconds;
        await holder.WaitForExitAsync(s_deadline, cancellationToken);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   holder {holder.Id} was killed (SIGKILL) while holding the light; {me} took it over {milliseconds:F1} ms later{(lease.Abandoned ? $" and was told its holder died (abandoned by {lease.AbandonedBy})" : ", BUT WAS NOT TOLD IT WAS ABANDONED")}"));
        return lease.Abandoned && lease.AbandonedBy == holder.Id;
    }
}
