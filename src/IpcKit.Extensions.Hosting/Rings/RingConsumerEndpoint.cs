using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using IpcKit.Serialization;
using IpcKit.SharedMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// A ring consumer run by the host: one reader, one message at a time, in ring order, each handed to the handler for
// its type id in a DI scope of its own.
//
// A message is taken out of the ring in place (its body copied once into a pooled buffer, to deserialize it) and is
// consumed before its handler runs: delivery is at most once, and a handler that throws does not stop the ring (the
// error is logged, the next message follows). A message of a type with no handler, or one that does not deserialize,
// is skipped and logged (an unknown type once per type id); nothing a writer puts in the ring can stop the consumer.
//
// The writer may come and go: when it detaches or dies with the ring empty, the wait reports it once and the next
// wait waits for a new writer (logged, then the loop goes on). Corruption ends the loop (logged as critical); the host
// goes on without this consumer, and its health check reports it.
//
// Stop: the wait is cancelled; the handler running goes on; then, with DrainOnStop, every message already committed
// is handed to its handler until the ring is empty or the host's shutdown timeout passes; then the reader detaches.
// A handler's token is cancelled only when that timeout passes (or the host is torn down without a stop), not when the
// stop begins, so the message in hand is not cut short by a stop that has time left. The side that created the ring
// deletes it, unless messages are left in it (kept for the next reader, and logged).
internal sealed class RingConsumerEndpoint : IAsyncDisposable
{
    private readonly ChannelRegistration _channel;
    private readonly HostedRingConsumerOptions _options;
    private readonly IServiceScopeFactory _scopes;
    [SuppressMessage("Reliability", "CA2213", Justification = "Borrowed from the container, which disposes it.")]
    private readonly HostingMetrics _metrics;
    [SuppressMessage("Reliability", "CA2213", Justification = "Borrowed from the container, which disposes it.")]
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopReceiving = new();
    private readonly CancellationTokenSource _abortHandlers = new();
    private readonly HashSet<int> _unknownTypes = [];
    private Task _loop = Task.CompletedTask;
    [SuppressMessage("Reliability", "CA2213", Justification = "Disposed in DisposeAsync, taken with Interlocked.Exchange so only one caller does.")]
    private RingReader? _reader;
    private bool _created;
    private CancellationToken _drainToken;
    private long _handled;
    private long _drained;
    private long _skipped;
    private int _disposed;

    internal RingConsumerEndpoint(ChannelRegistration channel, string ringName, HostedRingConsumerOptions options, IServiceProvider services)
    {
        _channel = channel;
        RingName = ringName;
        _options = options;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _metrics = services.GetRequiredService<HostingMetrics>();
        _loggerFactory = services.GetService<ILoggerFactory>();
        _logger = Loggers.Create(_loggerFactory);
    }

    internal string Name => _channel.Name;

    internal string RingName { get; }

    /// <summary>Whether the receive loop runs (false before start, after stop, or after the ring failed).</summary>
    internal bool IsReceiving => !_loop.IsCompleted;

    internal long Handled => Interlocked.Read(ref _handled);

    /// <summary>Creates the ring when this side creates it, and starts receiving in the background.</summary>
    internal void Start()
    {
        if (_options.Create)
        {
            _created = RingApi.Create(RingName, _options);
            if (_created)
            {
                HostingLog.RingCreated(_logger, Name, RingName, _options.Capacity);
            }
            else
            {
                HostingLog.RingExisted(_logger, Name, RingName);
            }

            // Attached now, so a writer started right after the host finds its reader there.
            try
            {
                _reader = RingApi.AttachReader(RingName, RingApi.EndpointOptions(_options, _loggerFactory));
            }
            catch when (_created)
            {
                RingApi.Delete(RingName);
                throw;
            }

            HostingLog.RingConsumerAttached(_logger, Name, RingName);
        }

        _loop = Task.Run(() => RunAsync(_stopReceiving.Token));
    }

    /// <summary>Stops waiting, drains what is committed (until <paramref name="cancellationToken"/>), detaches, and deletes the ring it created.</summary>
    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _drainToken = cancellationToken;
        CancellationTokenRegistration deadline = cancellationToken.Register(static abort => ((CancellationTokenSource)abort!).Cancel(), _abortHandlers);
        try
        {
            await _stopReceiving.CancelAsync().ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
        }
        finally
        {
            // Unregistered before the source is disposed, so a deadline passing now cannot cancel a disposed source.
            await deadline.DisposeAsync().ConfigureAwait(false);
            _abortHandlers.Dispose();
        }
    }

    /// <summary>Stops without draining (a start that failed, a host torn down), detaches, and deletes the ring it created.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _drainToken = new CancellationToken(canceled: true);
        await _abortHandlers.CancelAsync().ConfigureAwait(false);
        await _stopReceiving.CancelAsync().ConfigureAwait(false);
        await CloseAsync().ConfigureAwait(false);
        _abortHandlers.Dispose();
    }

    private async Task CloseAsync()
    {
        await _loop.ConfigureAwait(false);
        _stopReceiving.Dispose();
        RingReader? reader = Interlocked.Exchange(ref _reader, null);
        if (reader is null)
        {
            return;
        }

        reader.Dispose();
        HostingLog.RingConsumerStopped(_logger, Name, Handled, _drained, _skipped);
        if (_created)
        {
            _created = false;
            if (RingApi.UnconsumedBytes(RingName) is long left && left > 0)
            {
                HostingLog.RingLeftUnconsumed(_logger, Name, RingName, left);
            }
            else if (RingApi.Delete(RingName))
            {
                HostingLog.RingDeleted(_logger, Name, RingName);
            }
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            RingReader reader = _reader ??= await RingApi.AttachReaderAsync(
                RingName, RingApi.EndpointOptions(_options, _loggerFactory), () => HostingLog.RingWaiting(_logger, Name, RingName), stop).ConfigureAwait(false);
            if (!_options.Create)
            {
                HostingLog.RingConsumerAttached(_logger, Name, RingName);
            }

            // A wait finds data without looking at its token: the loop checks the stop itself, or it would spin.
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (!await RingApi.WaitForDataAsync(reader, stop).ConfigureAwait(false))
                    {
                        continue;
                    }
                }
                catch (IpcPeerGoneException gone)
                {
                    if (gone.Reason == IpcCloseReason.PeerClosed)
                    {
                        HostingLog.RingWriterDetached(_logger, Name);
                    }
                    else
                    {
                        HostingLog.RingWriterDied(_logger, Name);
                    }

                    continue;
                }

                while (!stop.IsCancellationRequested && await TakeOneAsync(reader).ConfigureAwait(false))
                {
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception exception) when (exception is IpcCorruptionException or IpcException or UnauthorizedAccessException)
        {
            HostingLog.RingConsumerFailed(_logger, exception, Name);
            return;
        }

        await DrainAsync().ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        if (!_options.DrainOnStop || _reader is not RingReader reader)
        {
            return;
        }

        CancellationToken deadline = _drainToken;
        try
        {
            while (!deadline.IsCancellationRequested && RingApi.HasData(reader))
            {
                if (await TakeOneAsync(reader).ConfigureAwait(false))
                {
                    _drained++;
                }
            }
        }
        catch (IpcCorruptionException exception)
        {
            HostingLog.RingConsumerFailed(_logger, exception, Name);
        }

        if (deadline.IsCancellationRequested && RingApi.HasData(reader))
        {
            HostingLog.RingDrainTimedOut(_logger, Name);
        }
    }

    /// <summary>Takes the next message out of the ring and hands it to its handler; false when none was ready.</summary>
    private async ValueTask<bool> TakeOneAsync(RingReader reader)
    {
        var taken = new Taken(_channel.Handlers);
        if (!RingApi.TryTake(reader, taken, static (state, body, typeId) => state.Read(body, typeId)))
        {
            return false;
        }

        if (taken.Invoker is not MessageInvoker invoker)
        {
            _skipped++;
            if (_unknownTypes.Add(taken.TypeId))
            {
                HostingLog.RingUnknownType(_logger, Name, MessageTypeId.Describe(taken.TypeId));
            }

            return true;
        }

        if (taken.Failure is not null)
        {
            _skipped++;
            HostingLog.RingMessageInvalid(_logger, taken.Failure, Name, invoker.MessageTypeName);
            return true;
        }

        long started = HostingMetrics.Start();
        try
        {
            await invoker.InvokeAsync(taken.Message, new MessageContext(Name, taken.TypeId, null), _scopes, _abortHandlers.Token).ConfigureAwait(false);
            _metrics.Handled(Name, invoker, started, null);
        }
        catch (Exception exception)
        {
            _metrics.Handled(Name, invoker, started, exception);
            HostingLog.RingHandlerFailed(_logger, exception, Name, invoker.HandlerType.Name, invoker.MessageTypeName);
        }

        Interlocked.Increment(ref _handled);
        return true;
    }

    /// <summary>What was read from the ring in place: the handler found for it, and the message or why it could not be read.</summary>
    private sealed class Taken(HandlerMap handlers)
    {
        internal int TypeId { get; private set; }

        internal MessageInvoker? Invoker { get; private set; }

        internal object? Message { get; private set; }

        internal Exception? Failure { get; private set; }

        /// <summary>Runs inside the ring's read: it must not throw, or the message would stay unconsumed and come back forever.</summary>
        internal void Read(ReadOnlySpan<byte> body, int typeId)
        {
            TypeId = typeId;
            Invoker = handlers.FindMessage(typeId);
            if (Invoker is null)
            {
                return;
            }

            byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
            try
            {
                body.CopyTo(copy);
                Message = Invoker.Deserialize(copy.AsMemory(0, body.Length));
            }
            catch (Exception exception)
            {
                Failure = exception;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }
}
