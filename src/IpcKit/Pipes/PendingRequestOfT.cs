using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Pipes;

/// <summary>
/// A pending request whose answer is a <typeparamref name="T"/>: a contract, or <see cref="IpcMessage"/> for raw
/// requests. It is the awaited object itself (<see cref="IValueTaskSource{T}"/>) and goes back to a pool once its
/// result was read, so a request allocates nothing of its own.
/// </summary>
/// <remarks>
/// Exactly one party completes it: whoever removed it from the table (the answer, the timer's expiry, the cancellation,
/// a failed write, the close). Pooling is safe because the result is read exactly once (the ValueTask rule) and the
/// object is reset only then. One exception: when a cancellation callback may still run (Unregister could not stop
/// it), the object is never reused, since that callback reads its id.
/// </remarks>
internal sealed class PendingRequest<T> : PendingRequest, IValueTaskSource<T>
{
    private const int PoolLimit = 1024;
    private static readonly ConcurrentQueue<PendingRequest<T>> s_pool = new();
    private static int s_pooled;

    private ManualResetValueTaskSourceCore<T> _core;
    private PendingRequests? _table;
    private CancellationTokenRegistration _cancellation;
    private bool _registered;
    private bool _reusable = true;

    private PendingRequest()
    {
    }

    /// <summary>A reset request from the pool (or a new one).</summary>
    /// <param name="inline">Whether the awaiting code resumes on the thread that completes it (the receive loop) instead of the thread pool.</param>
    internal static PendingRequest<T> Rent(bool inline)
    {
        if (!s_pool.TryDequeue(out PendingRequest<T>? request))
        {
            request = new PendingRequest<T>();
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }

        request._core.RunContinuationsAsynchronously = !inline;
        return request;
    }

    /// <summary>The task the caller awaits.</summary>
    internal ValueTask<T> Task => new(this, _core.Version);

    /// <summary>Abandons the request in <paramref name="table"/> when <paramref name="cancellationToken"/> fires.</summary>
    internal void RegisterCancellation(PendingRequests table, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return;
        }

        _table = table;
        _registered = true;
        _cancellation = cancellationToken.UnsafeRegister(
            static (state, token) =>
            {
                var request = (PendingRequest<T>)state!;
                if (request._table!.Abandon(request.Id, request))
                {
                    request.SetException(new OperationCanceledException(token));
                }
            },
            this);
    }

    internal override void Complete(FrameKind kind, int typeId, ReadOnlyMemory<byte> body)
    {
        if (kind == FrameKind.Error)
        {
            string type;
            string message;
            try
            {
                (type, message) = PipeProtocol.ReadError(body);
            }
            catch (IpcProtocolException exception)
            {
                // The request is no longer in the pending table: fail it here, or nobody ever would (found by fuzzing).
                Fail(exception);
                throw;
            }

            Fail(new PipeRemoteException(type, message));
            return;
        }

        if (typeof(T) == typeof(IpcMessage))
        {
            // The body lives in the receive buffer: the caller gets a copy of its own.
            var message = new IpcMessage(typeId, body.ToArray());
            SetResult(Unsafe.As<IpcMessage, T>(ref message));
            return;
        }

        int expected = MessageTypeId.Of<T>();
        if (typeId != expected)
        {
            // The caller asked for the wrong type (or the server answers another one): that call fails, the connection
            // is fine. The message names both types, by name where this process knows them.
            Fail(new IpcProtocolException(
                $"The answer to request {Id} is a {MessageTypeId.Describe(typeId)}, not the {MessageTypeId.Describe(expected)} this call asked for (RequestAsync<{MessageTypeId.Describe(RequestTypeId)}, {typeof(T).Name}>); the connection goes on."));
            return;
        }

        T value;
        try
        {
            value = IpcSerializer.Deserialize<T>(body);
        }
        catch (ArgumentException exception)
        {
            // T is not a contract: the caller's mistake, which fails this call only.
            Fail(exception);
            return;
        }
        catch (MessagePackSerializationException exception)
        {
            // Its type id says T and its body is not a T: the peer broke the protocol.
            var error = new IpcProtocolException($"The body of the answer to request {Id} is not a valid {MessageTypeId.Describe(expected)}: {exception.Message}", exception);
            Fail(error);
            throw error;
        }

        SetResult(value);
    }

    internal override void Fail(Exception exception) => SetException(exception);

    public T GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void SetResult(T value)
    {
        StopCancellation();
        _core.SetResult(value);
    }

    private void SetException(Exception exception)
    {
        StopCancellation();
        _core.SetException(exception);
    }

    private void StopCancellation()
    {
        if (_registered && !_cancellation.Unregister())
        {
            // The callback ran or is running (and reads Id): this object must never carry another request.
            _reusable = false;
        }
    }

    private void Recycle()
    {
        if (!_reusable)
        {
            return;
        }

        _core.Reset();
        _table = null;
        _cancellation = default;
        _registered = false;
        Id = 0;
        if (Interlocked.Increment(ref s_pooled) <= PoolLimit)
        {
            s_pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }
}
