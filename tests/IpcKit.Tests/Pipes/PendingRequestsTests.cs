using IpcKit.Contracts;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Pipes;

/// <summary>The pending-request table and its pooled requests alone: ids, slots, expiry, cancellation, the close.</summary>
public sealed class PendingRequestsTests
{
    [Fact]
    public void Correlation_ids_wrap_around_skipping_zero_and_ids_still_pending()
    {
        var table = new PendingRequests();
        table.SetLastIdForTesting(uint.MaxValue - 3);
        PendingRequest<IpcMessage> held = Add(table);
        Assert.Equal(uint.MaxValue - 2, held.Id);
        Assert.Equal(uint.MaxValue - 1, Add(table).Id);
        Assert.Equal(uint.MaxValue, Add(table).Id);
        Assert.Equal(1u, Add(table).Id);

        // One more lap: ids 1 and MaxValue - 2 are still pending, so the counter skips them (and 0).
        table.SetLastIdForTesting(uint.MaxValue - 3);
        Assert.NotNull(table.TryRemove(uint.MaxValue - 1));
        Assert.NotNull(table.TryRemove(uint.MaxValue));
        Assert.Equal(uint.MaxValue - 1, Add(table).Id);
        Assert.Equal(uint.MaxValue, Add(table).Id);
        Assert.Equal(2u, Add(table).Id);
    }

    [Fact]
    public async Task A_request_beyond_the_peers_limit_waits_for_a_slot_within_its_deadline_and_its_token()
    {
        var table = new PendingRequests { Limit = 2 };
        PendingRequest<IpcMessage> first = Add(table);
        Add(table);
        Assert.False(table.TryAdd(PendingRequest<IpcMessage>.Rent(inline: false)));

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => table.AddAsync(PendingRequest<IpcMessage>.Rent(inline: false), Deadline(TestTimeouts.Expected), CancellationToken.None).AsTask());
        Assert.Contains("request slot", timeout.Message, StringComparison.Ordinal);
        using var cancel = new CancellationTokenSource();
        Task cancelled = table.AddAsync(PendingRequest<IpcMessage>.Rent(inline: false), Deadline(), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        PendingRequest<IpcMessage> third = PendingRequest<IpcMessage>.Rent(inline: false);
        Task added = table.AddAsync(third, Deadline(), TestTimeouts.UnexpectedToken()).AsTask();
        Assert.False(added.IsCompleted);
        Assert.Same(first, table.TryRemove(first.Id));
        await added.WaitAsync(TestTimeouts.Unexpected);
        Assert.Equal(2, table.Count);
    }

    [Fact]
    public async Task An_expired_request_fails_but_keeps_its_slot_until_its_late_answer_arrives()
    {
        var table = new PendingRequests { Limit = 1 };
        PendingRequest<IpcMessage> request = Add(table, PipeDeadline.From(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)));
        uint id = request.Id;
        ValueTask<IpcMessage> task = request.Task;
        var expired = new List<PendingRequest>();
        table.Expire(Environment.TickCount64 + 1000, expired);
        Assert.Same(request, Assert.Single(expired));
        request.Fail(new TimeoutException("late"));
        await Assert.ThrowsAsync<TimeoutException>(() => task.AsTask());

        // The peer is still working on it: the id and the slot stay taken, and its answer is dropped when it comes.
        Assert.Equal(1, table.Count);
        Assert.False(table.TryAdd(PendingRequest<IpcMessage>.Rent(inline: false)));
        Assert.Null(table.TryRemove(id));
        Assert.True(table.TryAdd(PendingRequest<IpcMessage>.Rent(inline: false)));
    }

    [Fact]
    public async Task A_closed_table_fails_what_it_holds_and_every_later_request_with_the_close_reason()
    {
        var table = new PendingRequests { Limit = 1 };
        PendingRequest<IpcMessage> live = Add(table);
        ValueTask<IpcMessage> task = live.Task;
        Task waitingForSlot = table.AddAsync(PendingRequest<IpcMessage>.Rent(inline: false), Deadline(), TestTimeouts.UnexpectedToken()).AsTask();

        table.Close(new IpcPeerGoneException("the server died", IpcCloseReason.PeerDied));

        Assert.Equal(IpcCloseReason.PeerDied, (await Assert.ThrowsAsync<IpcPeerGoneException>(() => task.AsTask())).Reason);
        await Assert.ThrowsAsync<IpcPeerGoneException>(() => waitingForSlot.WaitAsync(TestTimeouts.Unexpected));
        Assert.Throws<IpcPeerGoneException>(() => table.TryAdd(PendingRequest<IpcMessage>.Rent(inline: false)));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_cancelled_request_ends_with_cancellation_and_its_answer_is_dropped()
    {
        var table = new PendingRequests();
        using var cancel = new CancellationTokenSource();
        PendingRequest<IpcMessage> request = Add(table);
        uint id = request.Id;
        request.RegisterCancellation(table, cancel.Token);
        ValueTask<IpcMessage> task = request.Task;

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task.AsTask());
        Assert.Null(table.TryRemove(id));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public async Task A_typed_answer_of_the_wrong_type_fails_only_that_request_and_names_both_types()
    {
        var table = new PendingRequests();
        var request = PendingRequest<Toy>.Rent(inline: false);
        request.RequestTypeId = MessageTypeId.Of<SumRequest>();
        Assert.True(table.TryAdd(request));
        ValueTask<Toy> task = request.Task;
        byte[] body = MessagePackSerializer.Serialize(new SumResponse { Sum = 3 }, IpcSerializer.Options);

        // Not thrown: the caller asked for the wrong type, the peer did nothing wrong, so the connection must go on.
        table.TryRemove(request.Id)!.Complete(FrameKind.Response, MessageTypeId.Of<SumResponse>(), body);

        var error = await Assert.ThrowsAsync<IpcProtocolException>(() => task.AsTask());
        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<SumResponse>()), error.Message, StringComparison.Ordinal);
        Assert.Contains(MessageTypeId.Describe(MessageTypeId.Of<Toy>()), error.Message, StringComparison.Ordinal);
        Assert.Contains("SumResponse", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_object_is_reused_after_its_answer_was_read()
    {
        var table = new PendingRequests();
        var first = PendingRequest<IpcMessage>.Rent(inline: false);
        Assert.True(table.TryAdd(first));
        ValueTask<IpcMessage> task = first.Task;
        table.TryRemove(first.Id)!.Complete(FrameKind.Response, 7, new byte[] { 1, 2 });
        IpcMessage answer = await task;
        Assert.Equal(7, answer.TypeId);
        Assert.Equal(new byte[] { 1, 2 }, answer.Body.ToArray());

        // Pools are per process; another test's request may take it first, so look a few deep.
        var rented = Enumerable.Range(0, 64).Select(_ => PendingRequest<IpcMessage>.Rent(inline: false)).ToList();
        Assert.Contains(first, rented);
    }

    private static PendingRequest<IpcMessage> Add(PendingRequests table, PipeDeadline? deadline = null)
    {
        var request = PendingRequest<IpcMessage>.Rent(inline: false);
        request.Deadline = deadline ?? Deadline();
        Assert.True(table.TryAdd(request));
        return request;
    }

    private static PipeDeadline Deadline(TimeSpan? timeout = null) => PipeDeadline.From(timeout ?? TestTimeouts.Unexpected, TestTimeouts.Unexpected);
}
