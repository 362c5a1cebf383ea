using System.Buffers;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

/// <summary>A pending request whose answer is a <typeparamref name="T"/> (a contract, or <c>byte[]</c> for raw requests).</summary>
internal sealed class PendingRequest<T> : PendingRequest
{
    // Continuations run on the thread pool, never on the receive loop that completes them: a caller that blocks after
    // its await (or waits synchronously for another answer) must not stall, or deadlock, the connection.
    // (Unless the application chose InlineCompletions and promised not to block.)
    private readonly TaskCompletionSource<T> _completion;
    private readonly bool _raw;
    private CancellationTokenRegistration _cancellation;

    internal PendingRequest(bool raw, bool inline)
    {
        _raw = raw;
        _completion = new(inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
    }

    internal Task<T> Task => _completion.Task;

    /// <summary>Cancels the request when <paramref name="cancellationToken"/> fires; <paramref name="onCancel"/> forgets it in the table.</summary>
    internal void RegisterCancellation(Action<PendingRequest<T>, CancellationToken> onCancel, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(
                static (state, token) =>
                {
                    var (request, callback) = ((PendingRequest<T>, Action<PendingRequest<T>, CancellationToken>))state!;
                    callback(request, token);
                },
                (this, onCancel));
        }
    }

    internal override void Complete(FrameKind kind, int typeId, in ReadOnlySequence<byte> body)
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

        T value;
        try
        {
            if (typeof(T) == typeof(IpcMessage))
            {
                // A forwarded request (PipeConnection.Forwarding.cs): the answer goes on as it came, whatever its type.
                value = (T)(object)new IpcMessage(typeId, body.ToArray());
            }
            else if (_raw)
            {
                if (typeId != MessageTypeId.Untyped)
                {
                    throw new IpcProtocolException($"A response to a raw request has message type {typeId:x8}; expected 0 (raw bytes).");
                }

                value = (T)(object)body.ToArray();
            }
            else
            {
                PipeBody.CheckType<T>(typeId, "response");
                value = PipeBody.Deserialize<T>(body, "response");
            }
        }
        catch (IpcProtocolException exception)
        {
            Fail(exception);
            throw;
        }

        _cancellation.Unregister();
        _completion.TrySetResult(value);
    }

    internal override bool Fail(Exception exception)
    {
        _cancellation.Unregister();
        return _completion.TrySetException(exception);
    }

    internal override bool Cancel(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);
}
