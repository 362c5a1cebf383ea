using IpcKit.Pipes;
using Microsoft.AspNetCore.Http;

namespace IpcKit.Gateway.Http;

/// <summary>What a client is told when a ring or a pipe refused or failed an operation; one mapping for REST and WebSockets.</summary>
internal static class ChannelProblems
{
    /// <summary>The problem for an exception from a ring operation in role <paramref name="role"/> ("writer" or "reader").</summary>
    public static GatewayProblem Ring(Exception exception, string ring, string role) => exception switch
    {
        GatewayProblem problem => problem,
        IpcNotFoundException => new GatewayProblem(
            StatusCodes.Status404NotFound, "not-found", "No such ring.",
            $"There is no ring '{ring}'; create it first (for example 'ipckit ring create {ring}').", exception),
        IpcInUseException => new GatewayProblem(
            StatusCodes.Status409Conflict, "role-taken", $"Another process is the ring's {role}.",
            $"The gateway cannot attach as the {role} of ring '{ring}': a ring has one {role} at a time. {exception.Message}", exception),
        TimeoutException => new GatewayProblem(
            StatusCodes.Status503ServiceUnavailable, "channel-full", "The ring stayed full.",
            $"Ring '{ring}' had no room within the timeout: its reader is not keeping up. {exception.Message}", exception)
        { RetryAfterSeconds = 1 },
        IpcPeerGoneException gone => new GatewayProblem(
            StatusCodes.Status503ServiceUnavailable, "peer-gone", "The ring's peer is gone.",
            $"Ring '{ring}': {gone.Message}", exception)
        { RetryAfterSeconds = 1 },
        IpcCorruptionException => new GatewayProblem(
            StatusCodes.Status502BadGateway, "channel-corrupted", "The ring is corrupted.", exception.Message, exception),
        SharedMemory.RingSubscriberDroppedException => new GatewayProblem(
            StatusCodes.Status409Conflict, "subscriber-dropped", "The ring's writer dropped the gateway's subscription.",
            $"Ring '{ring}': {exception.Message} The next request subscribes again, from then on.", exception),
        UnauthorizedAccessException => new GatewayProblem(
            StatusCodes.Status403Forbidden, "forbidden", "The gateway may not open the ring.", exception.Message, exception),
        ArgumentException => GatewayProblem.BadRequest("invalid-argument", exception.Message),
        IOException => new GatewayProblem(
            StatusCodes.Status500InternalServerError, "channel-error", "The ring failed.", exception.Message, exception),
        _ => new GatewayProblem(
            StatusCodes.Status500InternalServerError, "internal-error", "The gateway failed.", exception.Message, exception),
    };

    /// <summary>The problem for an exception from a pipe operation.</summary>
    public static GatewayProblem Pipe(Exception exception, string pipe) => exception switch
    {
        GatewayProblem problem => problem,
        PipeRemoteException remote => new GatewayProblem(
            StatusCodes.Status502BadGateway, "remote-error", "The pipe server's handler failed.",
            $"The server on pipe '{pipe}' answered with an error: {remote.RemoteType}: {remote.RemoteMessage}", exception)
            .With("remoteType", remote.RemoteType)
            .With("remoteMessage", remote.RemoteMessage),
        TimeoutException => new GatewayProblem(
            StatusCodes.Status504GatewayTimeout, "timeout", "The pipe server did not answer in time.", exception.Message, exception),
        IpcPeerGoneException => new GatewayProblem(
            StatusCodes.Status502BadGateway, "peer-gone", "The pipe server went away.",
            $"The connection to pipe '{pipe}' ended: {exception.Message}", exception),
        IpcProtocolException => new GatewayProblem(
            StatusCodes.Status502BadGateway, "protocol-error", "The pipe server broke the protocol.", exception.Message, exception),
        IpcInUseException or IpcNotFoundException => new GatewayProblem(
            StatusCodes.Status503ServiceUnavailable, "no-server", "No server listens on the pipe.", exception.Message, exception)
        { RetryAfterSeconds = 1 },
        UnauthorizedAccessException => new GatewayProblem(
            StatusCodes.Status403Forbidden, "forbidden", "The gateway may not connect to the pipe.", exception.Message, exception),
        ArgumentException => GatewayProblem.BadRequest("invalid-argument", exception.Message),
        IOException => new GatewayProblem(
            StatusCodes.Status502BadGateway, "channel-error", "The pipe connection failed.", exception.Message, exception),
        _ => new GatewayProblem(
            StatusCodes.Status500InternalServerError, "internal-error", "The gateway failed.", exception.Message, exception),
    };

    public static GatewayProblem NoServer(string pipe, string path, TimeSpan waited) => new(
        StatusCodes.Status503ServiceUnavailable, "no-server", "No server listens on the pipe.",
        waited == TimeSpan.Zero
            ? $"No server listens on pipe '{pipe}': its socket {path} does not exist."
            : $"No server accepted a connection on pipe '{pipe}' ({path}) within {waited.TotalMilliseconds:0} ms.")
    { RetryAfterSeconds = 1 };

    public static GatewayProblem TooLarge(string detail) => new(
        StatusCodes.Status413PayloadTooLarge, "message-too-large", "A message is larger than the channel takes.", detail);
}
