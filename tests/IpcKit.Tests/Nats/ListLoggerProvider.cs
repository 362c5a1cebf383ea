using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IpcKit.Tests.Nats;

/// <summary>Collects log events in memory, so a test can assert what was logged (event id and text).</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(int Id, string Message)> _events = new();

    public IReadOnlyCollection<(int Id, string Message)> Events => [.. _events];

    public ILogger CreateLogger(string categoryName) => new Logger(_events);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<(int Id, string Message)> events) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            events.Enqueue((eventId.Id, formatter(state, exception)));
    }
}
