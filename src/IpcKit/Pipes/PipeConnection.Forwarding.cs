using System.Diagnostics;
using IpcKit.Serialization;

namespace IpcKit.Pipes;

// Forwarding: requests, answers and one-way messages by type id, with bodies nobody here deserializes.
//
// A bridge to another transport (IpcKit.Nats) carries IpcKit messages unchanged: it must send a request of any
// contract and hand its answer (type id and body) back as it came, and answer a request it forwarded with the remote
// side's answer or error. These members do what RequestAsync<,>, SendAsync<> and a handler's answer do, minus the
// (de)serialization. They are internal: the public raw API (SendRaw / RequestRaw with an optional type id) is the
// pipe's to shape; a forwarder is the one user that needs the type id of the answer too.
public sealed partial class PipeConnection
{
    /// <summary>Sends a request with <paramref name="typeId"/> and an already serialized body; the answer comes back as it was sent.</summary>
    /// <exception cref="TimeoutException">No answer within the timeout.</exception>
    /// <exception cref="PipeRemoteException">The handler threw, or the server has no handler for the type id.</exception>
    /// <exception cref="IpcPeerGoneException">The connection ended before the answer came.</exception>
    internal Task<IpcMessage> ForwardRequestAsync(int typeId, ReadOnlyMemory<byte> body, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<IpcMessage>(cancellationToken);
        }

        CheckSize(body.Length, "forwarded request", nameof(body));
        return StartRequest(
            new PendingRequest<IpcMessage>(raw: false, _options.InlineCompletions) { Timeout = timeout ?? _options.RequestTimeout, Deadline = DeadlineOf(timeout), Started = Stopwatch.GetTimestamp() },
            typeId,
            body.Span,
            cancellationToken);
    }

    /// <summary>Sends a one-way message with <paramref name="typeId"/> and an already serialized body.</summary>
    /// <exception cref="ArgumentException">The body is larger than the peer accepts.</exception>
    internal ValueTask ForwardMessageAsync(int typeId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        CheckSize(body.Length, "forwarded message", nameof(body));
        PipeMetrics.MessagesSent.Add(1);
        return WithCancellation(WriteFrameAsync(FrameKind.Message, 0, typeId, body.Span, urgent: false), cancellationToken);
    }

    /// <summary>Answers request <paramref name="correlationId"/> with a message as it came from elsewhere.</summary>
    internal ValueTask SendForwardedResponseAsync(uint correlationId, IpcMessage response)
    {
        if (response.Body.Length > _peerMaxBody)
        {
            return SendErrorAsync(correlationId, new ArgumentException(
                $"The response ({MessageTypeId.Describe(response.TypeId)}) is {response.Body.Length} bytes; the caller accepts at most {_peerMaxBody}."));
        }

        PipeMetrics.MessagesSent.Add(1);
        return WriteFrameAsync(FrameKind.Response, correlationId, response.TypeId, response.Body.Span);
    }

    /// <summary>Answers request <paramref name="correlationId"/> with an error that happened elsewhere, its type name kept.</summary>
    internal ValueTask SendForwardedErrorAsync(uint correlationId, string remoteType, string message) =>
        SendErrorAsync(correlationId, remoteType, message);
}
