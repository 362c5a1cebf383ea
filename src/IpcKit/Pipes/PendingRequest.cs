namespace IpcKit.Pipes;

/// <summary>A request sent and not answered yet, waiting in its connection's <see cref="PendingRequests"/> under its correlation id.</summary>
internal abstract class PendingRequest
{
    /// <summary>The correlation id the table gave it.</summary>
    internal uint Id { get; set; }

    /// <summary>When it times out.</summary>
    internal PipeDeadline Deadline { get; set; }

    /// <summary>When it was sent, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    internal long Started { get; set; }

    /// <summary>The request's type, for messages.</summary>
    internal int RequestTypeId { get; set; }

    /// <summary>Completes with a response frame, or fails with the content of an error frame. Called once, by whoever took it out of the table.</summary>
    /// <exception cref="IpcProtocolException">The peer's answer is malformed (the request has failed with it too): the connection must close.</exception>
    internal abstract void Complete(FrameKind kind, int typeId, ReadOnlyMemory<byte> body);

    /// <summary>Fails it. Called once, by whoever took it out of the table.</summary>
    internal abstract void Fail(Exception exception);
}
