using System.Collections.Concurrent;
using IpcKit.Contracts;
using IpcKit.Extensions.Hosting;
using IpcKit.Pipes;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>A scoped service: each instance has its own number and records when its scope disposes it.</summary>
internal sealed class ScopeProbe : IDisposable
{
    private static int s_next;

    public int Number { get; } = Interlocked.Increment(ref s_next);

    public bool Disposed { get; private set; }

    public void Dispose() => Disposed = true;
}

/// <summary>What the handlers saw, shared by a test and its host (a singleton).</summary>
internal sealed class HandlerJournal
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<(string What, ScopeProbe Probe)> Calls { get; } = new();

    public void Record(string what, ScopeProbe probe)
    {
        Calls.Enqueue((what, probe));
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking at each call a handler records; fails at the unexpected timeout.</summary>
    public async Task WaitForAsync(Func<HandlerJournal, bool> condition)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (true)
        {
            Task changed = Volatile.Read(ref _changed).Task;
            if (condition(this))
            {
                return;
            }

            await changed.WaitAsync(deadline.Token);
        }
    }

    /// <summary>Held closed by a test to keep handlers inside their call; handlers wait for it.</summary>
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool UseGate { get; set; }

    public int Entered => _entered;

    private int _entered;

    public async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _entered);
        if (UseGate)
        {
            await Gate.Task.WaitAsync(cancellationToken);
        }
    }
}

/// <summary>Answers sums and takes text messages; fails on a request with no numbers and on the text "fail".</summary>
internal sealed class SumHandler(ScopeProbe probe, HandlerJournal journal) : IPipeRequestHandler<SumRequest, SumResponse>, IMessageHandler<TextMessage>
{
    public async ValueTask<SumResponse> HandleAsync(SumRequest request, PipeConnection connection, CancellationToken cancellationToken)
    {
        journal.Record("sum", probe);
        await journal.EnterAsync(cancellationToken);
        if (request.Numbers.Length == 0)
        {
            throw new InvalidOperationException("nothing to add");
        }

        return new SumResponse { Sum = request.Numbers.Sum(), Count = request.Numbers.Length, ProcessId = Environment.ProcessId };
    }

    public async ValueTask HandleAsync(TextMessage message, MessageContext context, CancellationToken cancellationToken)
    {
        journal.Record(message.Message, probe);
        await journal.EnterAsync(cancellationToken);
        if (message.Message == "fail")
        {
            throw new InvalidOperationException("asked to fail");
        }
    }
}

/// <summary>Not a handler of anything.</summary>
internal sealed class NotAHandler
{
}
