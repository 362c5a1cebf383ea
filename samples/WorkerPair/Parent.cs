using IpcKit.Extensions.Hosting;
using IpcKit.Pipes;

namespace WorkerPair;

// The parent's handlers: DI services, resolved in a new scope for every request and message.

/// <summary>Answers the child's requests on the pipe "calc".</summary>
public sealed class AddHandler : IPipeRequestHandler<AddRequest, AddResponse>
{
    public ValueTask<AddResponse> HandleAsync(AddRequest request, PipeConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AddResponse { Sum = request.Numbers.Sum() });
}

/// <summary>Takes the child's reports from the ring "events"; the last round ends the exchange.</summary>
public sealed partial class RoundDoneHandler(Exchange exchange, ILogger<RoundDoneHandler> logger) : IMessageHandler<RoundDone>
{
    public ValueTask HandleAsync(RoundDone message, MessageContext context, CancellationToken cancellationToken)
    {
        LogRound(logger, message.Round, message.ChildProcessId, message.Sum);
        exchange.RoundDone(message.Round);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "Round {Round} from child {ChildProcessId}: sum {Sum}")]
    private static partial void LogRound(ILogger logger, int round, int childProcessId, long sum);
}

/// <summary>The exchange's progress (a singleton): after the last round it says so and, unless told otherwise, stops the host.</summary>
public sealed class Exchange(IConfiguration configuration, IHostApplicationLifetime lifetime)
{
    private int _rounds;

    public void RoundDone(int round)
    {
        if (Interlocked.Increment(ref _rounds) == configuration.GetValue("Sample:Rounds", 3))
        {
            Console.WriteLine($"exchange complete: {round} rounds");
            if (configuration.GetValue("Sample:StopWhenDone", true))
            {
                lifetime.StopApplication();
            }
        }
    }
}
