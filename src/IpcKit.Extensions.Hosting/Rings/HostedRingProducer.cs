using IpcKit.SharedMemory;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// A ring writer the host attaches and detaches: it attaches when the host starts (waiting for the ring to be created
/// when another process creates it) and detaches when the host stops. Resolve it by its name
/// (<c>[FromKeyedServices("events")] HostedRingProducer events</c>). Thread-safe: sends from several threads are
/// written one after the other.
/// </summary>
public sealed class HostedRingProducer : IAsyncDisposable
{
    private readonly HostedRingProducerOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<RingWriter> _writer = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Task _attach = Task.CompletedTask;
    private bool _created;
    private int _state; // 0 created, 1 started, 2 stopped

    internal HostedRingProducer(string name, string ringName, HostedRingProducerOptions options, ILoggerFactory? loggerFactory)
    {
        Name = name;
        RingName = ringName;
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = Loggers.Create(loggerFactory);
    }

    /// <summary>The name the producer was registered under.</summary>
    public string Name { get; }

    /// <summary>The OS name of the ring it writes to.</summary>
    public string RingName { get; }

    /// <summary>Whether it holds the writer role now.</summary>
    public bool IsAttached => _writer.Task.IsCompletedSuccessfully && Volatile.Read(ref _state) == 1;

    /// <summary>Sends a message; the timeout covers waiting for the ring to be attached and for room in it.</summary>
    /// <exception cref="TimeoutException">Not attached, or no room, within <paramref name="timeout"/> (null: <see cref="HostedRingOptions.DefaultTimeout"/>).</exception>
    /// <exception cref="IpcPeerGoneException">The reader died and the ring is full.</exception>
    /// <exception cref="ObjectDisposedException">The host stopped.</exception>
    public Task SendAsync<T>(T message, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WriteAsync((writer, left, token) => RingApi.SendAsync(writer, message, left, token), timeout, cancellationToken);

    /// <summary>Sends raw bytes with <paramref name="typeId"/> (0 for raw); the timeout covers attaching and room.</summary>
    /// <exception cref="TimeoutException">Not attached, or no room, within the timeout.</exception>
    public Task SendRawAsync(ReadOnlyMemory<byte> body, int typeId = 0, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WriteAsync((writer, left, token) => RingApi.SendRawAsync(writer, body, typeId, left, token), timeout, cancellationToken);

    /// <summary>Detaches (the host does this when it stops), after a send in progress ends.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _attach.ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_writer.Task.IsCompletedSuccessfully)
            {
                _writer.Task.Result.Dispose();
            }

            _writer.TrySetException(new ObjectDisposedException(ToString(), "The host stopped: the ring producer is detached."));
            if (_created && RingApi.Delete(RingName))
            {
                HostingLog.RingDeleted(_logger, Name, RingName);
            }
        }
        finally
        {
            _gate.Release();
        }

        _stop.Dispose();
        _gate.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"hosted ring producer '{Name}' ({RingName}, {(IsAttached ? "attached" : "not attached")})";

    internal void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return;
        }

        var endpoint = RingApi.EndpointOptions(_options, _loggerFactory);
        if (_options.Create)
        {
            _created = RingApi.Create(RingName, _options);
            if (_created)
            {
                HostingLog.RingCreated(_logger, Name, RingName, _options.Capacity);
            }

            try
            {
                _writer.SetResult(RingApi.AttachWriter(RingName, endpoint));
            }
            catch when (_created)
            {
                RingApi.Delete(RingName);
                throw;
            }

            HostingLog.RingProducerAttached(_logger, Name, RingName);
            return;
        }

        _attach = Task.Run(async () =>
        {
            try
            {
                RingWriter writer = await RingApi.AttachWriterAsync(RingName, endpoint, () => HostingLog.RingWaiting(_logger, Name, RingName), _stop.Token).ConfigureAwait(false);
                _writer.SetResult(writer);
                HostingLog.RingProducerAttached(_logger, Name, RingName);
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception exception)
            {
                // The role is taken, or the ring is not ours: senders learn why.
                _writer.TrySetException(exception);
            }
        });
    }

    private async Task WriteAsync(Func<RingWriter, TimeSpan, CancellationToken, ValueTask> write, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
        TimeSpan limit = timeout ?? _options.DefaultTimeout;
        long started = Environment.TickCount64;
        RingWriter writer;
        try
        {
            writer = await _writer.Task.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Ring producer '{Name}' is not attached to ring '{RingName}': it was not created within {limit}.");
        }

        if (!await _gate.WaitAsync(Durations.Remaining(limit, started), cancellationToken).ConfigureAwait(false))
        {
            throw new TimeoutException($"Ring producer '{Name}': other sends held the ring for longer than {limit}.");
        }

        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
            await write(writer, Durations.Remaining(limit, started), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
