using IpcKit.Extensions.Hosting;

namespace WorkerPair;

// The child's side: a typed client over the pipe "calc" and a worker that reports each answer on the ring "events".
// The channels' OS names come from the parent; the child runs until the parent stops it.

/// <summary>A typed client over the hosted pipe client "calc", connected (and reconnected) in the background.</summary>
public sealed class CalcClient(HostedPipeClient pipe)
{
    public async Task<long> AddAsync(long[] numbers, CancellationToken cancellationToken) =>
        (await pipe.RequestAsync<AddRequest, AddResponse>(new AddRequest { Numbers = numbers }, cancellationToken: cancellationToken)).Sum;
}

/// <summary>Runs the fixed exchange once: a request per round, then its report on the ring.</summary>
public sealed class ChildWorker(CalcClient calc, [FromKeyedServices("events")] HostedRingProducer events, IConfiguration configuration) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (int round = 1; round <= configuration.GetValue("Sample:Rounds", 3); round++)
        {
            long sum = await calc.AddAsync([round, round * 10, round * 100], stoppingToken);
            await events.SendAsync(new RoundDone { Round = round, Sum = sum, ChildProcessId = Environment.ProcessId }, cancellationToken: stoppingToken);
        }
    }
}
