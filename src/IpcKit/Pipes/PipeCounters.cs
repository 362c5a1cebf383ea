namespace IpcKit.Pipes;

/// <summary>
/// The live counters behind <see cref="PipeStatistics"/>, one set per connection. Sent figures change only under the
/// output's lock and received ones only on the (one) receive loop, so they are plain increments on the hot path; drops
/// happen on several threads and use Interlocked. A snapshot reads each 64-bit figure atomically.
/// </summary>
internal sealed class PipeCounters
{
    private long _messagesSent;
    private long _messagesReceived;
    private long _messagesDropped;
    private long _requestsSent;
    private long _requestsReceived;
    private long _bytesSent;
    private long _bytesReceived;

    internal void FrameSent(FrameKind kind, int bytes)
    {
        _bytesSent += bytes;
        if (kind == FrameKind.Message)
        {
            _messagesSent++;
            PipeMetrics.MessagesSent.Add(1);
        }
        else if (kind == FrameKind.Request)
        {
            _requestsSent++;
            PipeMetrics.MessagesSent.Add(1);
            PipeMetrics.Requests.Add(1);
        }
        else if (kind is FrameKind.Response or FrameKind.Error)
        {
            PipeMetrics.MessagesSent.Add(1);
        }
    }

    internal void FrameReceived(FrameKind kind)
    {
        if (kind == FrameKind.Message)
        {
            _messagesReceived++;
            PipeMetrics.MessagesReceived.Add(1);
        }
        else if (kind == FrameKind.Request)
        {
            _requestsReceived++;
            PipeMetrics.MessagesReceived.Add(1);
        }
        else if (kind is FrameKind.Response or FrameKind.Error)
        {
            PipeMetrics.MessagesReceived.Add(1);
        }
    }

    internal void BytesReceived(int bytes)
    {
        _bytesReceived += bytes;
        PipeMetrics.BytesReceived.Add(bytes);
    }

    internal void Dropped()
    {
        Interlocked.Increment(ref _messagesDropped);
        PipeMetrics.MessagesDropped.Add(1);
    }

    internal PipeStatistics Snapshot() => new(
        Interlocked.Read(ref _messagesSent),
        Interlocked.Read(ref _messagesReceived),
        Interlocked.Read(ref _messagesDropped),
        Interlocked.Read(ref _requestsSent),
        Interlocked.Read(ref _requestsReceived),
        Interlocked.Read(ref _bytesSent),
        Interlocked.Read(ref _bytesReceived));
}
