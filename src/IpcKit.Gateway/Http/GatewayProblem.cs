using Microsoft.AspNetCore.Http;

namespace IpcKit.Gateway.Http;

/// <summary>
/// A request the gateway refuses or could not complete, with what a client needs to act on it: the HTTP status, a
/// stable machine-readable <see cref="Code"/>, a title and a detail. Written as RFC 9457 problem details; on a WebSocket
/// as an <c>ipckit.error</c> frame.
/// </summary>
internal sealed class GatewayProblem : Exception
{
    public GatewayProblem(int status, string code, string title, string detail, Exception? innerException = null)
        : base(detail, innerException)
    {
        Status = status;
        Code = code;
        Title = title;
    }

    public int Status { get; }

    /// <summary>A short stable name for the problem (for example <c>unknown-type</c>), for clients to switch on.</summary>
    public string Code { get; }

    public string Title { get; }

    public string Detail => Message;

    /// <summary>More members for the problem document (for example the known type names, or the pipe server's exception).</summary>
    public Dictionary<string, object?> Extensions { get; } = [];

    /// <summary>Seconds a client should wait before trying again (a Retry-After header), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    public GatewayProblem With(string key, object? value)
    {
        Extensions[key] = value;
        return this;
    }

    public static GatewayProblem BadRequest(string code, string detail) =>
        new(StatusCodes.Status400BadRequest, code, "The request is not valid.", detail);
}
