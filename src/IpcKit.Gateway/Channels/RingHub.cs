using System.Net.WebSockets;
using IpcKit.Gateway.WebSockets;
using IpcKit.SharedMemory;

namespace IpcKit.Gateway.Channels;

/// <summary>
/// A ring streamed to WebSocket subscribers. On a one-to-one or many-to-one ring one loop, holding the gateway's reader
/// role, reads every message once, renders it as JSON once, and hands the same frame to every subscriber's queue; with
/// no subscriber left the loop stops, and unread messages stay in the ring. On a broadcast ring each WebSocket client
/// has a hub of its own, with a subscriber slot of its own (attached from now or from the oldest message still in the
/// ring), released when the client leaves; a lapped subscriber of a lossy ring tells its client how many it lost with
/// an ipckit.skipped frame. Either way the loop reads as fast as the ring fills, whatever the client does: a slow
/// client loses messages or its connection by its policy, never stalls the ring (or, under back-pressure, its writer)
/// or the others.
/// </summary>
internal sealed class RingHub : Fanout
{
    private const int MessagesPerDrain = 1024;

    private readonly RingSlot _slot;
    private readonly GatewayContext _context;
    private readonly RingEndpointOptions? _subscription;
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="slot">The ring.</param>
    /// <param name="context">The gateway.</param>
    /// <param name="subscription">For a broadcast ring, the options of this hub's own subscriber; null to read through the slot's reader role.</param>
    public RingHub(RingSlot slot, GatewayContext context, RingEndpointOptions? subscription = null)
    {
        _slot = slot;
        _context = context;
        _subscription = subscription;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(context.Stopping);
    }

    /// <summary>Subscribers and subscribers-to-be; changed only under the slot's lock.</summary>
    public int Members { get; set; }

    /// <summary>Whether this hub reads through a broadcast subscription of its own rather than the slot's reader role.</summary>
    public bool OwnsSubscription => _subscription is not null;

    /// <summary>Completes once the gateway is the ring's reader and the loop runs; faults with the problem if it could not attach.</summary>
    public Task Started => _started.Task;

    public void Start() => _loop = Task.Run(RunAsync);

    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async Task StopAsync()
    {
        Stop();
        await _loop.ConfigureAwait(false);
    }

    protected override void OnAdded() => Volatile.Read(ref _subscribed).TrySetResult();

    private async Task RunAsync()
    {
        if (_subscription is not null)
        {
            await RunSubscriptionAsync(_subscription).ConfigureAwait(false);
            return;
        }

        CancellationToken stop = _stop.Token;
        try
        {
            await _slot.ReaderGate.WaitAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _started.TrySetCanceled(stop);
            _stop.Dispose();
            return;
        }

        try
        {
            RingReader reader;
            try
            {
                reader = _slot.EnsureReader();
            }
            catch (Exception exception)
            {
                _slot.Forget(this);
                _started.TrySetException(Http.ChannelProblems.Ring(exception, _slot.Name, "reader"));
                return;
            }

            _started.TrySetResult();
            await PumpAsync(reader, stop).ConfigureAwait(false);
        }
        finally
        {
            _slot.ReaderGate.Release();
            _stop.Dispose();
        }
    }

    private async Task RunSubscriptionAsync(RingEndpointOptions options)
    {
        CancellationToken stop = _stop.Token;
        try
        {
            RingReader reader;
            try
            {
                reader = RingReader.Attach(_slot.Name, options);
            }
            catch (Exception exception)
            {
                _started.TrySetException(exception is IpcInUseException
                    ? new Http.GatewayProblem(
                        Microsoft.AspNetCore.Http.StatusCodes.Status409Conflict, "no-free-slot", "The ring has no free subscriber slot.", exception.Message, exception)
                    : Http.ChannelProblems.Ring(exception, _slot.Name, "reader"));
                return;
            }

            using (reader)
            {
                reader.Lapped += (_, lapped) => Publish(WebSocketSession.SkippedFrame(lapped.Lost));
                _started.TrySetResult();
                await PumpAsync(reader, stop).ConfigureAwait(false);
            }
        }
        finally
        {
            _stop.Dispose();
        }
    }

    private async Task PumpAsync(RingReader reader, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await reader.WaitForDataAsync(Timeout.InfiniteTimeSpan, stop).ConfigureAwait(false);
                }
                catch (IpcPeerGoneException exception)
                {
                    // Reported once per writer; the next wait waits for a new writer to attach.
                    GatewayLog.RingAttachmentDropped(_context.Logger, _slot.Name, exception.Message);

                    continue;
                }

                // Between a member joining and its client being added nobody would see the messages: they wait in the ring.
                while (Count == 0)
                {
                    var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Volatile.Write(ref _subscribed, subscribed);
                    if (Count == 0)
                    {
                        await subscribed.Task.WaitAsync(stop).ConfigureAwait(false);
                    }
                }

                reader.Drain(this, static (hub, payload, type) => hub.Publish(hub._context.Codec.Render(type, payload)), MessagesPerDrain);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // A corrupted ring, a subscriber its writer dropped (or another failure of the reader): every subscriber
            // learns why; the next use attaches anew.
            GatewayLog.RingSubscriptionEnded(_context.Logger, _slot.Name, exception.Message);
            if (_subscription is null)
            {
                _slot.DropReader();
                _slot.Forget(this);
            }

            CloseAll(WebSocketCloseStatus.InternalServerError, $"ring '{_slot.Name}' failed: {exception.Message}");
        }
    }
}
