using System.Buffers;

namespace IpcKit.Pipes;

/// <summary>A request sent and not answered yet, waiting in its connection's table under its correlation id.</summary>
internal abstract class PendingRequest
{
    /// <summary>When it times out, in <see cref="Environment.TickCount64"/> milliseconds (long.MaxValue for never).</summary>
    internal long Deadline { get; init; }

    /// <summary>The timeout the caller asked for, for the message.</summary>
    internal TimeSpan Timeout { get; init; }

    /// <summary>When it was sent, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    internal long Started { get; init; }

    /// <summary>Completes with the body of a response frame, or fails with the content of an error frame.</summary>
    /// <exception cref="IpcProtocolException">The body is not what the caller expects; the request fails too.</exception>
    internal abstract void Complete(FrameKind kind, int typeId, in ReadOnlySequence<byte> body);

    internal abstract bool Fail(Exception exception);

    internal abstract bool Cancel(CancellationToken cancellationToken);
}
