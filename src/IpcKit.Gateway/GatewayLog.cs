using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway;

// The gateway's log events, ids 5000-5999 (docs/architecture.md, Logging). Source-generated: nothing is formatted or
// allocated when the level is off. Nothing is logged per message; a request is logged only when it is refused or
// fails. Never logged: the token (nor a wrong one a client offered), query strings (they may carry access_token),
// message contents.
internal static partial class GatewayLog
{
    [LoggerMessage(5000, LogLevel.Information, "Listening on {Url}")]
    public static partial void Listening(ILogger logger, string url);

    [LoggerMessage(5001, LogLevel.Information, "Stopped: {MessagesIn} messages in, {MessagesOut} out, {Problems} problems")]
    public static partial void Stopped(ILogger logger, long messagesIn, long messagesOut, long problems);

    [LoggerMessage(5002, LogLevel.Information, "Mounted at {Prefix}")]
    public static partial void Mounted(ILogger logger, string prefix);

    [LoggerMessage(5010, LogLevel.Information, "{Method} {Path}: {Status} {Code}: {Detail}")]
    public static partial void RequestRefused(ILogger logger, string method, string path, int status, string code, string detail);

    [LoggerMessage(5011, LogLevel.Warning, "{Method} {Path}: {Status} {Code}: {Detail}")]
    public static partial void RequestFailedByChannel(ILogger logger, string method, string path, int status, string code, string detail);

    [LoggerMessage(5012, LogLevel.Error, "{Method} {Path} failed")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(5020, LogLevel.Warning, "Refused {Method} {Path} from {Remote}: {Reason}")]
    public static partial void AuthenticationRejected(ILogger logger, string method, string path, string remote, string reason);

    [LoggerMessage(5021, LogLevel.Warning, "Refused {Method} {Path} from {Remote}: the Host '{Host}' is not one the gateway answers to")]
    public static partial void HostRejected(ILogger logger, string method, string path, string remote, string host);

    [LoggerMessage(5030, LogLevel.Warning, "The connection cap ({Cap}) is reached: closed the oldest connection without a token ({Remote}, open {AgeMs} ms) to make room")]
    public static partial void ConnectionCapEvicted(ILogger logger, int cap, string remote, long ageMs);

    [LoggerMessage(5031, LogLevel.Warning, "The connection cap ({Cap}) is reached and every connection has shown the token: refused a new connection from {Remote}")]
    public static partial void ConnectionCapRefused(ILogger logger, int cap, string remote);

    [LoggerMessage(5032, LogLevel.Debug, "Closed a connection from {Remote}: no request with the token within {TimeoutMs} ms")]
    public static partial void AnonymousConnectionTimedOut(ILogger logger, string remote, long timeoutMs);

    [LoggerMessage(5033, LogLevel.Warning, "Refused a Unix-socket connection from user {Uid} (pid {Pid}): only this user ({Me}) may connect")]
    public static partial void PeerUserRejected(ILogger logger, uint uid, int pid, uint me);

    [LoggerMessage(5040, LogLevel.Warning, "WebSocket client on {Channel} closed as a slow consumer: more than {Messages} messages or {Bytes} bytes queued")]
    public static partial void SlowClientClosed(ILogger logger, string channel, int messages, long bytes);

    [LoggerMessage(5041, LogLevel.Information, "WebSocket client on {Channel} closed with 1009: a frame announced a message of {Announced} bytes, more than {Limit}")]
    public static partial void WebSocketMessageTooBig(ILogger logger, string channel, ulong announced, long limit);

    [LoggerMessage(5050, LogLevel.Information, "Pipe '{Pipe}': the connection ended: {Why}")]
    public static partial void PipeConnectionEnded(ILogger logger, string pipe, string why);

    [LoggerMessage(5060, LogLevel.Information, "Ring '{Ring}': {Message}")]
    public static partial void RingAttachmentDropped(ILogger logger, string ring, string message);

    [LoggerMessage(5061, LogLevel.Warning, "Ring '{Ring}' subscription ended: {Message}")]
    public static partial void RingSubscriptionEnded(ILogger logger, string ring, string message);
}
