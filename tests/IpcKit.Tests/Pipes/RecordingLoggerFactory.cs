using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IpcKit.Tests.Pipes;

/// <summary>An <see cref="ILoggerFactory"/> that keeps every event at every level, for tests that assert what was logged.</summary>
internal sealed class RecordingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<(EventId Id, LogLevel Level, string Message, Exception? Exception)> _events = new();

    // Completed (and replaced) whenever an event is logged, so a waiter wakes on the event rather than on a timer.
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<(EventId Id, LogLevel Level, string Message, Exception? Exception)> Events => [.. _events];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    /// <summary>Waits until an event with <paramref name="id"/> was logged; fails the test after the deadline.</summary>
    public async Task<(EventId Id, LogLevel Level, string Message, Exception? Exception)> WaitForAsync(int id)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (true)
        {
            // Read before scanning: an event logged after the scan completes this one.
            Task next = Volatile.Read(ref _logged).Task;
            foreach (var logged in _events)
            {
                if (logged.Id.Id == id)
                {
                    return logged;
                }
            }

            try
            {
                await next.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"No event {id} was logged; logged: {string.Join(", ", _events.Select(e => e.Id.Id))}");
            }
        }
    }

    private sealed class Logger(RecordingLoggerFactory factory) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            factory._events.Enqueue((eventId, logLevel, formatter(state, exception), exception));
            Interlocked.Exchange(ref factory._logged, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }
}
