using Microsoft.Extensions.Hosting;

namespace IpcKit.Gateway.Hosting;

// The lifetime of a self-hosted gateway's private host: it takes no process signals. The default one (ConsoleLifetime)
// registers SIGINT, SIGQUIT and SIGTERM handlers that cancel the signal and only call StopApplication on that private
// host, which nothing watches (the gateway stops when told: StopAsync, DisposeAsync). In the process around it:
//
//   - a program with no handlers of its own no longer ended on Ctrl+C or SIGTERM: the signal was cancelled;
//   - the runtime runs the newest registration first (.NET 10), so the host's handler ran before the program's own
//     handlers (ipckit's StopSignal) and, on a runtime that stops at the first handler that cancels, instead of them:
//     the program would never see its signal.
//
// The process's signals belong to the program; a library does not register for them.
internal sealed class SignalFreeHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
