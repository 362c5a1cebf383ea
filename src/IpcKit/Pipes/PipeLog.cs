using Microsoft.Extensions.Logging;

namespace IpcKit.Pipes;

// What the pipe channel logs, source-generated (no allocation when the level is off), event ids 1000-1999
// (docs/architecture.md, Logging). Connections opening and ending and why, peers gone, protocol violations, refused
// peers, handler failures, dropped messages (the first of a connection, then a count when it ends), a receive thread
// taken over from blocking application code, reconnects, accept failures. Nothing per message.
internal static partial class PipeLog
{
    [LoggerMessage(EventId = 1000, EventName = "ServerListening", Level = LogLevel.Information, Message = "Pipe server '{Pipe}' listening on {Path}.")]
    internal static partial void ServerListening(ILogger logger, string pipe, string path);

    [LoggerMessage(EventId = 1001, EventName = "ServerStopped", Level = LogLevel.Information, Message = "Pipe server '{Pipe}' stopped: {Connections} connections served, {Statistics}.")]
    internal static partial void ServerStopped(ILogger logger, string pipe, long connections, PipeStatistics statistics);

    [LoggerMessage(EventId = 1002, EventName = "ConnectionOpened", Level = LogLevel.Debug, Message = "Pipe '{Pipe}' connection #{Connection} opened with process {PeerProcessId} ({Side} side).")]
    internal static partial void ConnectionOpened(ILogger logger, string pipe, long connection, int? peerProcessId, string side);

    [LoggerMessage(EventId = 1003, EventName = "ConnectionClosed", Level = LogLevel.Debug, Message = "Pipe '{Pipe}' connection #{Connection} closed ({Reason}): {Why} {Statistics}.")]
    internal static partial void ConnectionClosed(ILogger logger, string pipe, long connection, IpcCloseReason reason, string why, PipeStatistics statistics);

    [LoggerMessage(EventId = 1004, EventName = "PeerGone", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection} lost its peer, process {PeerProcessId} ({Reason}): {Why}")]
    internal static partial void PeerGone(ILogger logger, string pipe, long connection, int? peerProcessId, IpcCloseReason reason, string why);

    [LoggerMessage(EventId = 1005, EventName = "ProtocolViolation", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection} closed: the peer, process {PeerProcessId}, broke the protocol: {Why}")]
    internal static partial void ProtocolViolation(ILogger logger, string pipe, long connection, int? peerProcessId, string why);

    [LoggerMessage(EventId = 1006, EventName = "PeerRejected", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection} refused: {Why}")]
    internal static partial void PeerRejected(ILogger logger, string pipe, long connection, string why);

    [LoggerMessage(EventId = 1010, EventName = "HandlerFailed", Level = LogLevel.Error, Message = "Pipe '{Pipe}' connection #{Connection}: a handler failed.")]
    internal static partial void HandlerFailed(ILogger logger, string pipe, long connection, Exception exception);

    [LoggerMessage(EventId = 1011, EventName = "MessageDropped", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection} dropped a one-way message of type {Type} ({Length} bytes): no handler for its type and no reader. Register a handler, read with ReceiveAllAsync before asking for messages, or set UnhandledMessages = Queue. Further drops on this connection are counted (MessagesDropped), not logged.")]
    internal static partial void MessageDropped(ILogger logger, string pipe, long connection, string type, int length);

    [LoggerMessage(EventId = 1012, EventName = "MessagesDroppedTotal", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection} ended having dropped {Count} one-way messages nobody took.")]
    internal static partial void MessagesDroppedTotal(ILogger logger, string pipe, long connection, long count);

    [LoggerMessage(EventId = 1013, EventName = "ReceiveTakenOver", Level = LogLevel.Warning, Message = "Pipe '{Pipe}' connection #{Connection}: application code has held the receive loop for over {Milliseconds} ms (a handler, or code resuming after a request, that blocks); another thread reads on. Blocking there delays the connection: await instead.")]
    internal static partial void ReceiveTakenOver(ILogger logger, string pipe, long connection, long milliseconds);

    [LoggerMessage(EventId = 1020, EventName = "Reconnecting", Level = LogLevel.Information, Message = "Pipe client '{Pipe}': the connection ended ({Reason}); reconnecting for up to {Milliseconds} ms.")]
    internal static partial void Reconnecting(ILogger logger, string pipe, IpcCloseReason reason, double milliseconds);

    [LoggerMessage(EventId = 1021, EventName = "Reconnected", Level = LogLevel.Information, Message = "Pipe client '{Pipe}' reconnected (connection #{Connection}, server process {PeerProcessId}).")]
    internal static partial void Reconnected(ILogger logger, string pipe, long connection, int? peerProcessId);

    [LoggerMessage(EventId = 1022, EventName = "ReconnectFailed", Level = LogLevel.Error, Message = "Pipe client '{Pipe}' gave up reconnecting.")]
    internal static partial void ReconnectFailed(ILogger logger, string pipe, Exception exception);

    [LoggerMessage(EventId = 1030, EventName = "AcceptFailed", Level = LogLevel.Warning, Message = "Pipe server '{Pipe}' could not accept a connection; retrying in {Milliseconds} ms.")]
    internal static partial void AcceptFailed(ILogger logger, string pipe, int milliseconds, Exception exception);

    [LoggerMessage(EventId = 1031, EventName = "ConnectionLimitReached", Level = LogLevel.Warning, Message = "Pipe server '{Pipe}' refused a connection: it has {Connections} (MaxConnections {Limit}).")]
    internal static partial void ConnectionLimitReached(ILogger logger, string pipe, int connections, int limit);
}
