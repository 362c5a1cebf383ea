using System.Buffers;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using IpcKit.Gateway.Channels;
using IpcKit.Gateway.Http;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway.WebSockets;

/// <summary>Handles one JSON text message a client sent; a <see cref="GatewayProblem"/> goes back as an error frame.</summary>
internal delegate ValueTask ClientMessageHandler(ReadOnlyMemory<byte> json, CancellationToken cancellationToken);

/// <summary>
/// One WebSocket client: a bounded send queue that channel readers fill without ever waiting, a send loop that drains
/// it to the socket, and a receive loop for the JSON messages the client sends.
/// </summary>
/// <remarks>
/// Fan-out must never wait for a client: <see cref="Offer"/> only appends under a short lock. When the queue holds
/// <see cref="GatewayOptions.WebSocketQueueMessages"/> messages or <see cref="GatewayOptions.WebSocketQueueBytes"/>
/// bytes (the kernel's socket buffers are full by then too), the client is slow, and its policy applies: Close ends it
/// with 1008, Skip drops its oldest messages and counts them. The socket allows one send and one receive at a time, so
/// every frame, the close frame included, leaves from the send loop. A close that cannot get out (the client reads
/// nothing) is given <see cref="CloseGrace"/>, then the connection is aborted, which also ends a send stuck in the kernel.
/// </remarks>
internal sealed class WebSocketSession : IDisposable
{
    /// <summary>How long a closing client has to take the close frame and answer it before the connection is aborted.</summary>
    internal static TimeSpan CloseGrace { get; } = TimeSpan.FromSeconds(1);

    private const int ReceiveChunk = 16 * 1024;

    private readonly WebSocket _socket;
    private readonly string _channel;
    private readonly GatewayStatistics _statistics;
    private readonly ILogger _logger;
    private readonly SlowClientPolicy _policy;
    private readonly int _maxMessages;
    private readonly long _maxBytes;
    private readonly long _maxIncoming;
    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _queue = new();
    private readonly CancellationTokenSource _abort = new();
    private long _queuedBytes;
    private long _skipped;
    private TaskCompletionSource? _waiter;
    private WebSocketCloseStatus? _closeStatus;
    private string _closeReason = "";
    private bool _disposed;

    /// <param name="socket">The accepted WebSocket.</param>
    /// <param name="limiter">The stream under it, which reports a frame announcing an oversized message before its payload is read.</param>
    /// <param name="channel">What the client is connected to, for the log ("ring 'jobs'").</param>
    /// <param name="context">The gateway's options, counters and log.</param>
    /// <param name="policy">What happens when the client reads too slowly.</param>
    public WebSocketSession(WebSocket socket, FrameLimitStream? limiter, string channel, GatewayContext context, SlowClientPolicy policy)
    {
        _socket = socket;
        _channel = channel;
        _statistics = context.Statistics;
        _logger = context.Logger;
        _policy = policy;
        _maxMessages = context.Options.WebSocketQueueMessages;
        _maxBytes = context.Options.WebSocketQueueBytes;
        _maxIncoming = context.Options.MaxBodyBytes;
        if (limiter is not null)
        {
            limiter.TooBig = MessageTooBig;
        }
    }

    /// <summary>Why the gateway closed the client (null while open, or if the client closed first).</summary>
    public WebSocketCloseStatus? CloseStatus
    {
        get
        {
            lock (_gate)
            {
                return _closeStatus;
            }
        }
    }

    /// <summary>Queues one frame for the client; never waits. Applies the slow-client policy when the queue is full.</summary>
    public void Offer(byte[] frame)
    {
        TaskCompletionSource? wake;
        bool overflow = false;
        lock (_gate)
        {
            if (_closeStatus is not null)
            {
                return;
            }

            // One message bigger than the whole byte budget still goes through an empty queue.
            if (_queue.Count >= _maxMessages || (_queue.Count > 0 && _queuedBytes + frame.Length > _maxBytes))
            {
                if (_policy == SlowClientPolicy.Close)
                {
                    overflow = true;
                }
                else
                {
                    long dropped = 0;
                    while (_queue.Count > 0 && (_queue.Count >= _maxMessages || _queuedBytes + frame.Length > _maxBytes))
                    {
                        _queuedBytes -= _queue.Dequeue().Length;
                        dropped++;
                    }

                    _skipped += dropped;
                    _statistics.Skipped(dropped);
                }
            }

            if (!overflow)
            {
                _queue.Enqueue(frame);
                _queuedBytes += frame.Length;
            }

            wake = _waiter;
            _waiter = null;
        }

        if (overflow)
        {
            _statistics.SlowClientClosed();
            GatewayLog.SlowClientClosed(_logger, _channel, _maxMessages, _maxBytes);
            Close(WebSocketCloseStatus.PolicyViolation, string.Create(CultureInfo.InvariantCulture, $"slow consumer: more than {_maxMessages} messages or {_maxBytes} bytes queued"));
            return;
        }

        wake?.TrySetResult();
    }

    /// <summary>
    /// Closes the client: the send loop stops sending messages and sends the close frame; whatever is not done within
    /// <see cref="CloseGrace"/> is aborted. The first close wins.
    /// </summary>
    public void Close(WebSocketCloseStatus status, string reason)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_closeStatus is not null || _disposed)
            {
                return;
            }

            _closeStatus = status;
            _closeReason = Truncate(reason);
            wake = _waiter;
            _waiter = null;
            _abort.CancelAfter(CloseGrace);
        }

        wake?.TrySetResult();
    }

    /// <summary>A frame header announced a message over the limit: close with 1009 before any of its payload is read.</summary>
    private void MessageTooBig(ulong announced)
    {
        GatewayLog.WebSocketMessageTooBig(_logger, _channel, announced, _maxIncoming);
        _statistics.Problem("message-too-large");
        Close(WebSocketCloseStatus.MessageTooBig, string.Create(CultureInfo.InvariantCulture, $"a message may have at most {_maxIncoming} bytes; this one announced {announced}"));
    }

    /// <summary>Runs the client until either side closes; <paramref name="onMessage"/> null means the client may not send.</summary>
    public async Task RunAsync(ClientMessageHandler? onMessage, CancellationToken stopping)
    {
        _statistics.ClientOpened();
        try
        {
            using CancellationTokenRegistration stop = stopping.Register(
                static state => ((WebSocketSession)state!).Close(WebSocketCloseStatus.EndpointUnavailable, "the gateway is stopping"), this);
            Task send = SendLoopAsync();
            Task receive = ReceiveLoopAsync(onMessage);
            if (await Task.WhenAny(send, receive).ConfigureAwait(false) == receive)
            {
                // The client closed or the connection broke: the send loop answers and ends.
                Close(WebSocketCloseStatus.NormalClosure, "");
            }
            else
            {
                // The send loop ended (the close frame went out, or the socket failed): wait for the client's answer briefly.
                lock (_gate)
                {
                    if (!_disposed)
                    {
                        _abort.CancelAfter(CloseGrace);
                    }
                }
            }

            await Task.WhenAll(send, receive).ConfigureAwait(false);
        }
        finally
        {
            _statistics.ClientClosed();
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _abort.Dispose();
    }

    /// <summary>An error frame: <c>{"type":"ipckit.error","status":400,"code":...,"title":...,"detail":...}</c>.</summary>
    internal static byte[] ErrorFrame(GatewayProblem problem)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "ipckit.error");
            writer.WriteNumber("status", problem.Status);
            writer.WriteString("code", problem.Code);
            writer.WriteString("title", problem.Title);
            writer.WriteString("detail", problem.Detail);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static byte[] SkippedFrame(long count) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"type\":\"ipckit.skipped\",\"count\":{count}}}"));

    private async Task SendLoopAsync()
    {
        CancellationToken abort = _abort.Token;
        try
        {
            while (true)
            {
                byte[]? frame = null;
                Task? wait = null;
                lock (_gate)
                {
                    if (_closeStatus is not null)
                    {
                        break;
                    }

                    if (_skipped > 0)
                    {
                        // The gap comes before everything queued now: say so before the next message.
                        frame = SkippedFrame(_skipped);
                        _skipped = 0;
                    }
                    else if (_queue.TryDequeue(out frame))
                    {
                        _queuedBytes -= frame.Length;
                    }
                    else
                    {
                        _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        wait = _waiter.Task;
                    }
                }

                if (wait is not null)
                {
                    await wait.ConfigureAwait(false);
                    continue;
                }

                await _socket.SendAsync(frame!, WebSocketMessageType.Text, endOfMessage: true, abort).ConfigureAwait(false);
                _statistics.Out(1);
            }

            WebSocketCloseStatus status;
            string reason;
            lock (_gate)
            {
                status = _closeStatus!.Value;
                reason = _closeReason;
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(status, reason, abort).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The client went away, or did not take the close in time: the connection is aborted.
            Close(WebSocketCloseStatus.EndpointUnavailable, "");
            _socket.Abort();
        }
    }

    private async Task ReceiveLoopAsync(ClientMessageHandler? onMessage)
    {
        CancellationToken abort = _abort.Token;
        byte[] chunk = ArrayPool<byte>.Shared.Rent(ReceiveChunk);
        var message = new ArrayBufferWriter<byte>(ReceiveChunk);
        try
        {
            // Reads until the client's close frame (or the abort): after the gateway closes, the client's answer still
            // has to be read for the close handshake to complete; what comes before it is ignored.
            while (true)
            {
                ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(chunk.AsMemory(), abort).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                if (CloseStatus is not null)
                {
                    continue;
                }

                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    Close(WebSocketCloseStatus.InvalidMessageType, "send messages as JSON text frames");
                    continue;
                }

                if (message.WrittenCount + result.Count > _maxIncoming)
                {
                    Close(WebSocketCloseStatus.MessageTooBig, string.Create(CultureInfo.InvariantCulture, $"a message may have at most {_maxIncoming} bytes"));
                    continue;
                }

                message.Write(chunk.AsSpan(0, result.Count));
                if (!result.EndOfMessage)
                {
                    continue;
                }

                try
                {
                    if (onMessage is null)
                    {
                        throw GatewayProblem.BadRequest("read-only", "This subscription only delivers messages; send them on a separate connection or with POST.");
                    }

                    // Awaited before the next frame is read: a client that sends faster than the channel takes waits in TCP.
                    await onMessage(message.WrittenMemory, abort).ConfigureAwait(false);
                }
                catch (GatewayProblem problem)
                {
                    _statistics.Problem(problem.Code);
                    Offer(ErrorFrame(problem));
                }

                message.ResetWrittenCount();
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The connection broke or was aborted.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>A close reason has at most 123 bytes of UTF-8.</summary>
    private static string Truncate(string reason)
    {
        if (Encoding.UTF8.GetByteCount(reason) <= 123)
        {
            return reason;
        }

        while (Encoding.UTF8.GetByteCount(reason) > 120)
        {
            reason = reason[..^1];
        }

        return reason + "...";
    }
}
