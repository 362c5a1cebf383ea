using System.Net.WebSockets;
using IpcKit.Gateway.WebSockets;
using IpcKit.SharedMemory;

namespace IpcKit.Gateway.Channels;

/// <summary>
/// A ring streamed to WebSocket subscribers: one loop, holding the gateway's reader role, reads every message once,
/// renders it as JSON once, and hands the same frame to every subscriber's queue. It reads as fast as the ring fills,
/// whatever the subscribers do; a slow subscriber loses messages or its connection by its policy, never stalls the
/// ring or the others. With no subscriber left the loop stops, and unread messages stay in the ring.
/// </summary>
internal sealed class RingHub : Fanout
{
    private const int MessagesPerDrain = 1024;

    private readonly RingSlot _slot;
    private readonly GatewayContext _context;
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RingHub(RingSlot slot, GatewayContext context)
    {
        _slot = slot;
        _context = context;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(context.Stopping);
    }

    /// <summary>Subscribers and subscribers-to-be; changed only under the slot's lock.</summary>
    public int Members { get; set; }

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
            // A corrupted ring (or another failure of the reader): every subscriber learns why; the next use attaches anew.
            GatewayLog.RingSubscriptionEnded(_context.Logger, _slot.Name, exception.Message);
            _slot.DropReader();
            _slot.Forget(this);
            CloseAll(WebSocketCloseStatus.InternalServerError, $"ring '{_slot.Name}' failed: {exception.Message}");
        }
    }
}
