using System.Runtime.InteropServices;

namespace IpcKit.Cli;

/// <summary>
/// What ends a long-running verb (a gateway, a bridge): SIGTERM, Ctrl+C (SIGINT) or the invocation's cancellation.
/// The signal is taken (the process is not killed by it), so the verb can stop in order and print its summary.
/// </summary>
internal sealed class StopSignal : IDisposable
{
    // A signal's handler may still run after its registration is disposed, so it only completes a task.
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _cancelled;
    private readonly PosixSignalRegistration _terminate;
    private readonly PosixSignalRegistration _interrupt;

    internal StopSignal(CancellationToken cancellationToken)
    {
        _cancelled = cancellationToken.Register(() => _stop.TrySetResult());
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    }

    /// <summary>Completes when the verb should stop.</summary>
    internal Task Task => _stop.Task;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _cancelled.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.TrySetResult();
    }
}
