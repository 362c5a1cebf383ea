using IpcKit.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace IpcKit.Tests.HostingExtensions;

/// <summary>
/// A real generic host in the test process, with IpcKit registered, settings from memory, and every log record kept
/// (FakeLogger) so a test can assert event ids. Disposing stops the host if it still runs.
/// </summary>
internal sealed class TestHost : IAsyncDisposable
{
    private readonly LogSignal _signal;

    private TestHost(IHost host, LogSignal signal)
    {
        Host = host;
        _signal = signal;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static TestHost Build(
        Action<IpcKitBuilder> configure,
        IDictionary<string, string?>? settings = null,
        TimeSpan? shutdownTimeout = null,
        Action<IServiceCollection>? services = null)
    {
        HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        var signal = new LogSignal();
        builder.Logging.SetMinimumLevel(LogLevel.Debug).AddFakeLogging(options => options.OutputSink = _ => signal.Pulse());
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = shutdownTimeout ?? TestTimeouts.Unexpected);
        configure(builder.Services.AddIpcKit());
        services?.Invoke(builder.Services);
        return new TestHost(builder.Build(), signal);
    }

    public static async Task<TestHost> StartAsync(
        Action<IpcKitBuilder> configure,
        IDictionary<string, string?>? settings = null,
        TimeSpan? shutdownTimeout = null,
        Action<IServiceCollection>? services = null)
    {
        TestHost host = Build(configure, settings, shutdownTimeout, services);
        try
        {
            await host.Host.StartAsync(TestTimeouts.UnexpectedToken());
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    /// <summary>The records with this event id.</summary>
    public IReadOnlyList<FakeLogRecord> Events(int id) => [.. Logs.GetSnapshot().Where(record => record.Id.Id == id)];

    /// <summary>Waits (up to the unexpected timeout) for a record with this event id.</summary>
    public async Task<FakeLogRecord> WaitForEventAsync(int id)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (true)
        {
            Task changed = _signal.Next;
            if (Events(id) is [FakeLogRecord first, ..])
            {
                return first;
            }

            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No log event {id} within {TestTimeouts.Unexpected}; events seen: {string.Join(", ", Logs.GetSnapshot().Select(r => r.Id.Id))}");
            }
        }
    }

    public async Task<HealthReport> HealthAsync() => await Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync(TestTimeouts.UnexpectedToken());
        }
        finally
        {
            Host.Dispose();
        }
    }

    /// <summary>Completes its task at each log record, so a wait for an event needs no polling.</summary>
    private sealed class LogSignal
    {
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Next => Volatile.Read(ref _next).Task;

        public void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
