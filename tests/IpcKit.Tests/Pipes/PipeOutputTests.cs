using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using IpcKit.Pipes;

namespace IpcKit.Tests.Pipes;

/// <summary>The output writer alone, over a sink the test controls: order, one writer, room, flow control, batching, the end.</summary>
public sealed class PipeOutputTests
{
    private static readonly byte[] s_body = new byte[32];

    [Fact]
    public async Task Frames_from_many_senders_reach_the_sink_once_each_in_each_senders_order_through_one_writer_at_a_time()
    {
        const int Senders = 4;
        const int Each = 5_000;
        var sink = new RecordingSink();
        var output = new PipeOutput(sink, 1024 * 1024, new PipeCounters());

        await Task.WhenAll(Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            byte[] body = new byte[8];
            for (int i = 0; i < Each; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(body, sender);
                BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), i);
                if (!output.TryWrite(FrameKind.Message, 0, 0, body, PipeRoom.Buffer, urgent: i % 2 == 0))
                {
                    await output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, body.ToArray(), PipeRoom.Buffer, urgent: false, Deadline(), TestTimeouts.UnexpectedToken());
                }
            }
        }))).WaitAsync(TestTimeouts.Unexpected);
        await sink.WaitForAsync(Senders * Each * (FrameHeader.Size + 8));

        int[] next = new int[Senders];
        foreach ((FrameHeader header, byte[] body) in sink.Frames())
        {
            int sender = BinaryPrimitives.ReadInt32LittleEndian(body);
            Assert.Equal(next[sender]++, BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4)));
        }

        Assert.All(next, count => Assert.Equal(Each, count));
        Assert.Equal(1, sink.MostConcurrentWrites);
    }

    [Fact]
    public async Task Above_the_send_buffer_limit_a_sender_waits_and_a_timeout_or_a_cancellation_sends_nothing()
    {
        var sink = new RecordingSink { Blocked = true };
        var output = new PipeOutput(sink, 1024, new PipeCounters());

        // The first frame is taken by the writer, which blocks in the sink; the next ones fill the buffer past its limit.
        int queued = 0;
        while (output.TryWrite(FrameKind.Message, 0, 0, new byte[100], PipeRoom.Buffer, urgent: false))
        {
            queued++;
        }

        Assert.InRange(queued, 2, 13);
        var late = await Assert.ThrowsAsync<TimeoutException>(() =>
            output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, new byte[100], PipeRoom.Buffer, urgent: false, Deadline(TestTimeouts.Expected), CancellationToken.None).AsTask());
        Assert.Contains("SendBufferLimit", late.Message, StringComparison.Ordinal);
        using var cancel = new CancellationTokenSource();
        Task cancelled = output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, new byte[100], PipeRoom.Buffer, urgent: false, Deadline(), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        // A waiter that stays goes out once the sink has taken the rest; the two that gave up never do.
        Task waiting = output.WriteWhenRoomAsync(FrameKind.Message, 0, 1, new byte[100], PipeRoom.Buffer, urgent: false, Deadline(), TestTimeouts.UnexpectedToken()).AsTask();
        Assert.False(waiting.IsCompleted);
        sink.Release();
        await waiting.WaitAsync(TestTimeouts.Unexpected);
        await sink.WaitForAsync((queued + 1) * 116);
        Assert.Equal(queued + 1, sink.Frames().Count);
        Assert.Equal(1, sink.Frames()[^1].Header.MessageType);
    }

    [Fact]
    public async Task One_way_messages_wait_for_the_peers_window_and_a_credit_lets_them_go()
    {
        var sink = new RecordingSink();
        var output = new PipeOutput(sink, 1024 * 1024, new PipeCounters());
        output.SetWindow(100);

        // 48 bytes per message (16 + 32): sent while less than 100 are outstanding, so three go (the third past the window).
        Assert.True(output.TryWrite(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true));
        Assert.True(output.TryWrite(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true));
        Assert.True(output.TryWrite(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true));
        Assert.False(output.TryWrite(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true));
        Assert.Equal(144, output.Outstanding);

        // Requests and answers are not held by the window.
        Assert.True(output.TryWrite(FrameKind.Request, 1, 0, s_body, PipeRoom.Buffer, urgent: true));
        Assert.True(output.TryWrite(FrameKind.Response, 2, 0, s_body, PipeRoom.Bypass, urgent: true));
        var waiting = await Assert.ThrowsAsync<TimeoutException>(() =>
            output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true, Deadline(TestTimeouts.Expected), CancellationToken.None).AsTask());
        Assert.Contains("ReceiveBufferLimit", waiting.Message, StringComparison.Ordinal);

        Task next = output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: true, Deadline(), TestTimeouts.UnexpectedToken()).AsTask();
        output.Credit(48);
        await next.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(144, output.Outstanding);

        // Crediting more than is outstanding breaks the protocol.
        Assert.Throws<IpcProtocolException>(() => output.Credit(145));
        Assert.Throws<IpcProtocolException>(() => output.Credit(0));
    }

    [Fact]
    public async Task After_a_failed_write_every_send_fails_with_the_peer_gone_exception_never_a_bare_closing()
    {
        var failure = new IpcPeerGoneException("gone", IpcCloseReason.PeerDied);
        var reported = new ConcurrentBag<Exception>();
        var sink = new RecordingSink { Failure = failure };
        var output = new PipeOutput(sink, 1024 * 1024, new PipeCounters()) { WriteFailed = reported.Add };

        output.TryWrite(FrameKind.Request, 1, 0, s_body, PipeRoom.Buffer, urgent: true);
        await output.Drained.WaitAsync(TestTimeouts.Unexpected);

        // The race behind requests that ended with ObjectDisposedException ("closing") when a server died: the output
        // refused frames before the connection had decided how it ended. Now whatever refuses says why.
        var refused = Assert.Throws<IpcPeerGoneException>(() => output.TryWrite(FrameKind.Request, 2, 0, s_body, PipeRoom.Buffer, urgent: true));
        Assert.Equal(IpcCloseReason.PeerDied, refused.Reason);
        Assert.Same(failure, refused.InnerException);
        await Assert.ThrowsAsync<IpcPeerGoneException>(() =>
            output.WriteWhenRoomAsync(FrameKind.Message, 0, 0, s_body, PipeRoom.Message, urgent: false, Deadline(), CancellationToken.None).AsTask());
        Assert.Same(failure, Assert.Single(reported));
    }

    [Fact]
    public async Task Complete_sends_what_is_queued_then_the_goodbye_and_refuses_everything_after_with_its_reason()
    {
        var sink = new RecordingSink { Blocked = true };
        var output = new PipeOutput(sink, 1024 * 1024, new PipeCounters());
        output.TryWrite(FrameKind.Message, 0, 1, s_body, PipeRoom.Message, urgent: false);
        output.TryWrite(FrameKind.Message, 0, 2, s_body, PipeRoom.Message, urgent: false);

        var reason = new ObjectDisposedException("connection", "closed by this process");
        output.Complete(reason, FrameKind.Close, "bye"u8);
        var refused = Assert.Throws<ObjectDisposedException>(() => output.TryWrite(FrameKind.Message, 0, 3, s_body, PipeRoom.Message, urgent: false));
        Assert.Contains("closed by this process", refused.Message, StringComparison.Ordinal);
        sink.Release();
        await output.Drained.WaitAsync(TestTimeouts.Unexpected);

        var frames = sink.Frames();
        Assert.Equal([1, 2], frames.Where(f => f.Header.Kind == FrameKind.Message).Select(f => f.Header.MessageType));
        Assert.Equal(FrameKind.Close, frames[^1].Header.Kind);
        Assert.Equal("bye"u8.ToArray(), frames[^1].Body);
    }

    [Fact]
    public async Task Answers_of_a_receive_burst_wait_for_its_end_and_the_watchdog_can_release_them_from_another_thread()
    {
        var sink = new RecordingSink();
        var output = new PipeOutput(sink, 1024 * 1024, new PipeCounters());

        output.BeginBatch();
        output.TryWrite(FrameKind.Response, 1, 0, s_body, PipeRoom.Bypass, urgent: true);
        output.TryWrite(FrameKind.Response, 2, 0, s_body, PipeRoom.Bypass, urgent: true);
        Assert.Equal(0, sink.Writes);
        output.EndBatch();
        Assert.Equal(1, sink.Writes);
        Assert.Equal(2, sink.Frames().Count);

        // A burst whose thread is held up (in application code) is released by someone else: nothing stays behind.
        output.BeginBatch();
        output.TryWrite(FrameKind.Response, 3, 0, s_body, PipeRoom.Bypass, urgent: true);
        await Task.Run(output.ReleaseBatch);
        await sink.WaitForAsync(3 * 48);
        Assert.Equal(3, sink.Frames().Count);
    }

    private static PipeDeadline Deadline(TimeSpan? timeout = null) => PipeDeadline.From(timeout ?? TestTimeouts.Unexpected, TestTimeouts.Unexpected);

    /// <summary>Records what is written; can hold writes (a peer that does not read) or fail them (a peer that died).</summary>
    private sealed class RecordingSink : IOutputSink
    {
        private readonly Lock _gate = new();
        private readonly List<byte> _bytes = [];
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _concurrent;
        private int _most;

        public bool Blocked { get; set; }

        public Exception? Failure { get; init; }

        public int Writes { get; private set; }

        public int MostConcurrentWrites => Volatile.Read(ref _most);

        public void Release()
        {
            Blocked = false;
            _released.TrySetResult();
        }

        public async ValueTask WriteAsync(List<ArraySegment<byte>> segments)
        {
            int now = Interlocked.Increment(ref _concurrent);
            InterlockedMax(ref _most, now);
            try
            {
                if (Failure is not null)
                {
                    throw Failure;
                }

                if (Blocked)
                {
                    await _released.Task;
                }

                lock (_gate)
                {
                    Writes++;
                    foreach (ArraySegment<byte> segment in segments)
                    {
                        _bytes.AddRange(segment);
                    }
                }
            }
            finally
            {
                Interlocked.Decrement(ref _concurrent);
            }
        }

        public async Task WaitForAsync(int bytes)
        {
            using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
            while (true)
            {
                lock (_gate)
                {
                    if (_bytes.Count >= bytes)
                    {
                        return;
                    }
                }

                await Task.Delay(5, deadline.Token);
            }
        }

        public List<(FrameHeader Header, byte[] Body)> Frames()
        {
            byte[] all;
            lock (_gate)
            {
                all = [.. _bytes];
            }

            var frames = new List<(FrameHeader, byte[])>();
            var buffer = new ReadOnlySequence<byte>(all);
            while (FrameHeader.TryRead(ref buffer, int.MaxValue, out FrameHeader header, out ReadOnlySequence<byte> body))
            {
                frames.Add((header, body.ToArray()));
            }

            Assert.True(buffer.IsEmpty, "the sink got a partial frame");
            return frames;
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current;
            while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }
    }
}
