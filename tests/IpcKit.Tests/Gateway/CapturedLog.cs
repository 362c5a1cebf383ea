using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace IpcKit.Tests.Gateway;

/// <summary>A logger factory that keeps every event a gateway logs (id, level, formatted message), for tests to look at.</summary>
public sealed class CapturedLog : ILoggerProvider
{
    private readonly ConcurrentQueue<(EventId Id, LogLevel Level, string Message)> _events = new();

    public CapturedLog()
    {
        Factory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(this));
    }

    public ILoggerFactory Factory { get; }

    public IReadOnlyList<(EventId Id, LogLevel Level, string Message)> Events => [.. _events];

    /// <summary>The messages of the events with <paramref name="id"/>.</summary>
    public IReadOnlyList<string> Messages(int id) => [.. _events.Where(e => e.Id.Id == id).Select(e => e.Message)];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() => Factory.Dispose();

    private sealed class Logger(CapturedLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log._events.Enqueue((eventId, logLevel, formatter(state, exception)));
    }
}
