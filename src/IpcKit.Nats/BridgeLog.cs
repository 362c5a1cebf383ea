using Microsoft.Extensions.Logging;

namespace IpcKit.Nats;

/// <summary>The bridge's log messages (event ids 6000-6999, docs/architecture.md "Logging"). Nothing per message on the hot path.</summary>
internal static partial class BridgeLog
{
    [LoggerMessage(6000, LogLevel.Information, "NATS bridge connected to {Url} (server {Server}) with {Routes} route(s)")]
    internal static partial void Connected(ILogger logger, string url, string server, int routes);

    [LoggerMessage(6001, LogLevel.Information, "Route {Route} started")]
    internal static partial void RouteStarted(ILogger logger, BridgeRoute route);

    [LoggerMessage(6002, LogLevel.Information, "Route {Route} stopped")]
    internal static partial void RouteStopped(ILogger logger, BridgeRoute route);

    [LoggerMessage(6003, LogLevel.Error, "Route {Route} failed; the bridge stops")]
    internal static partial void RouteFailed(ILogger logger, BridgeRoute route, Exception exception);

    [LoggerMessage(6004, LogLevel.Warning, "NATS connection lost ({Reason}); reconnecting")]
    internal static partial void Disconnected(ILogger logger, string reason);

    [LoggerMessage(6005, LogLevel.Information, "NATS connection restored")]
    internal static partial void Reconnected(ILogger logger);

    [LoggerMessage(6010, LogLevel.Warning, "Route {Route}: the NATS client dropped a message because the bridge could not keep up ({Dropped} dropped so far; core NATS is at most once)")]
    internal static partial void Dropped(ILogger logger, BridgeRoute route, long dropped);

    [LoggerMessage(6011, LogLevel.Error, "Route {Route}: a message can never be delivered and was {Action}: {Why}")]
    internal static partial void Rejected(ILogger logger, BridgeRoute route, string action, string why);

    [LoggerMessage(6012, LogLevel.Information, "Route {Route}: ring '{Ring}' is full; waiting for room (messages wait in NATS meanwhile)")]
    internal static partial void RingFull(ILogger logger, BridgeRoute route, string ring);

    [LoggerMessage(6020, LogLevel.Information, "Route {Route}: resuming after stream sequence {Committed} ({Source}); consumer '{Consumer}' starts at {Start}")]
    internal static partial void Resuming(ILogger logger, BridgeRoute route, ulong committed, string source, string consumer, ulong start);

    [LoggerMessage(6021, LogLevel.Information, "Route {Route}: the message of stream sequence {Sequence} being written when the previous bridge stopped {Outcome}")]
    internal static partial void Recovered(ILogger logger, BridgeRoute route, ulong sequence, string outcome);

    [LoggerMessage(6022, LogLevel.Warning, "Route {Route}: publishing to the stream failed ({Why}); retrying the batch of {Count} (the stream drops copies by message id)")]
    internal static partial void PublishRetry(ILogger logger, BridgeRoute route, string why, int count);

    [LoggerMessage(6023, LogLevel.Warning, "Route {Route}: the delivery record {Path} belongs to another ring or stream ({Why}); starting from the consumer's acknowledged position")]
    internal static partial void RecordReset(ILogger logger, BridgeRoute route, string path, string why);

    [LoggerMessage(6030, LogLevel.Warning, "Route {Route}: pipe request failed ({Kind}): {Why}")]
    internal static partial void RequestFailed(ILogger logger, BridgeRoute route, string kind, string why);

    [LoggerMessage(6031, LogLevel.Warning, "Route {Route}: a one-way message could not be forwarded: {Why}")]
    internal static partial void MessageNotForwarded(ILogger logger, BridgeRoute route, string why);
}
