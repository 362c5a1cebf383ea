using System.Text.Json;
using IpcKit.Gateway.Channels;
using IpcKit.Gateway.Connections;
using IpcKit.Gateway.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace IpcKit.Gateway.Http;

// Runs around every gateway endpoint, self-hosted (as middleware) or mounted in an app (wrapped around each
// endpoint), so both get the same checks in the same order:
//
//   1. the Host header (DNS rebinding: HostCheck);
//   2. the bearer token, except on the anonymous endpoints (/health, /openapi.json). The token comes in the
//      Authorization header; on a WebSocket endpoint, and only for a real upgrade request, also as the subprotocol
//      ipckit.bearer.TOKEN or the query parameter access_token (browsers cannot set headers on a WebSocket);
//   3. the answer to a request without the valid token carries "Connection: close", and a connection becomes
//      trusted (GatewayConnection.Authenticated) only by a request with it: a client without the token cannot keep
//      a connection open, so it cannot occupy what token holders need (ConnectionGuard);
//   4. every refusal or failure becomes an RFC 9457 problem document, including routing's empty 404 and 405.
internal sealed class GatewayGuard
{
    private readonly GatewayContext _context;

    public GatewayGuard(GatewayContext context)
    {
        _context = context;
    }

    /// <summary>Checks the request, then runs <paramref name="next"/> (the endpoint, or the rest of the pipeline).</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            if (!_context.Hosts.Allows(context.Request.Host))
            {
                CloseAfterResponse(context);
                GatewayLog.HostRejected(_context.Logger, context.Request.Method, context.Request.Path, Remote(context), context.Request.Host.Host);
                throw GatewayProblem.BadRequest("host-not-allowed", _context.Hosts.Describe(context.Request.Host));
            }

            OperationDoc? operation = context.GetEndpoint()?.Metadata.GetMetadata<OperationDoc>();
            if (Authenticate(context, operation))
            {
                context.Features.Get<GatewayConnection>()?.Authenticated();
            }
            else
            {
                CloseAfterResponse(context);
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
            {
                bodyLimit.MaxRequestBodySize = _context.Options.MaxBodyBytes;
            }

            await next(context).ConfigureAwait(false);
            if (!context.Response.HasStarted && context.Response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed
                && context.Response.ContentType is null)
            {
                throw context.Response.StatusCode == StatusCodes.Status404NotFound
                    ? new GatewayProblem(StatusCodes.Status404NotFound, "no-such-endpoint", "No such endpoint.", $"There is no endpoint {context.Request.Path}; see /openapi.json.")
                    : new GatewayProblem(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed.", $"{context.Request.Method} is not allowed on {context.Request.Path}; see /openapi.json.");
            }
        }
        catch (GatewayProblem problem)
        {
            await WriteProblemAsync(context, problem).ConfigureAwait(false);
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel's own refusals while reading the request (a body over the limit, a broken chunk).
            await WriteProblemAsync(context, exception.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? new GatewayProblem(exception.StatusCode, "body-too-large", "The body is too large.", exception.Message)
                : new GatewayProblem(exception.StatusCode, "bad-request", "The request is not valid HTTP.", exception.Message)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (OperationCanceledException) when (_context.Stopping.IsCancellationRequested)
        {
            await WriteProblemAsync(context, new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable, "stopping", "The gateway is stopping.", "The gateway stopped while this request waited.")).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            GatewayLog.RequestFailed(_context.Logger, exception, context.Request.Method, context.Request.Path);
            await WriteProblemAsync(context, new GatewayProblem(
                StatusCodes.Status500InternalServerError, "internal-error", "The gateway failed.", exception.Message, exception)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// True if the request carries the valid token; false on an anonymous endpoint without it.
    /// </summary>
    /// <exception cref="GatewayProblem">401: the endpoint needs the token and the request has no valid one.</exception>
    private bool Authenticate(HttpContext context, OperationDoc? operation)
    {
        StringValues authorization = context.Request.Headers.Authorization;
        string? offered = null;
        if (authorization.Count > 0)
        {
            offered = "a wrong token in the Authorization header";
            string value = authorization.ToString();
            if (authorization.Count == 1 && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && _context.Token.Matches(value.AsSpan(7).Trim()))
            {
                return true;
            }
        }

        if (operation?.Anonymous == true)
        {
            return false;
        }

        // Browsers cannot set headers on a WebSocket: the token may come as a subprotocol or a query parameter, but
        // only to a WebSocket endpoint and on a real upgrade request (else any GET could carry it in its URL).
        if (operation?.WebSocket == true && WebSocketHandshake.IsUpgradeRequest(context))
        {
            foreach (string protocol in WebSocketHandshake.RequestedProtocols(context))
            {
                if (protocol.StartsWith(GatewayEndpoints.BearerProtocolPrefix, StringComparison.Ordinal))
                {
                    offered = "a wrong token as a WebSocket subprotocol";
                    if (_context.Token.Matches(protocol.AsSpan(GatewayEndpoints.BearerProtocolPrefix.Length)))
                    {
                        return true;
                    }
                }
            }

            if (context.Request.Query.TryGetValue(GatewayEndpoints.TokenQueryParameter, out StringValues query))
            {
                offered = "a wrong token in access_token";
                if (query.Count == 1 && _context.Token.Matches(query.ToString()))
                {
                    return true;
                }
            }
        }

        GatewayLog.AuthenticationRejected(_context.Logger, context.Request.Method, context.Request.Path, Remote(context), offered ?? "no token");
        CloseAfterResponse(context);
        context.Response.Headers.WWWAuthenticate = offered is not null ? "Bearer realm=\"ipckit\", error=\"invalid_token\"" : "Bearer realm=\"ipckit\"";
        throw new GatewayProblem(
            StatusCodes.Status401Unauthorized, "unauthorized", "A valid bearer token is required.",
            offered is not null
                ? "The token is not this gateway's token."
                : "Send the token the gateway printed at start (and stored in its token file) as 'Authorization: Bearer TOKEN'.");
    }

    /// <summary>Asks the server to close the connection after this answer (HTTP/1.x; HTTP/2 has no such header).</summary>
    private static void CloseAfterResponse(HttpContext context)
    {
        if (!context.Response.HasStarted && !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
        {
            context.Response.Headers.Connection = "close";
        }
    }

    private static string Remote(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? $"{address}:{context.Connection.RemotePort}" : "a local socket";

    private async Task WriteProblemAsync(HttpContext context, GatewayProblem problem)
    {
        _context.Statistics.Problem(problem.Code);
        if (problem.Status >= StatusCodes.Status500InternalServerError)
        {
            GatewayLog.RequestFailedByChannel(_context.Logger, context.Request.Method, context.Request.Path, problem.Status, problem.Code, problem.Detail);
        }
        else if (problem.Code is not ("unauthorized" or "host-not-allowed"))
        {
            GatewayLog.RequestRefused(_context.Logger, context.Request.Method, context.Request.Path, problem.Status, problem.Code, problem.Detail);
        }

        if (context.Response.HasStarted)
        {
            // Too late for a status: end the response abruptly so the client cannot take it for complete.
            context.Abort();
            return;
        }

        StringValues authenticate = context.Response.Headers.WWWAuthenticate;
        StringValues connection = context.Response.Headers.Connection;
        context.Response.Clear();
        if (authenticate.Count > 0)
        {
            context.Response.Headers.WWWAuthenticate = authenticate;
        }

        if (connection.Count > 0)
        {
            context.Response.Headers.Connection = connection;
        }
        if (problem.RetryAfterSeconds is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = problem.Status;
        context.Response.ContentType = "application/problem+json; charset=utf-8";
        var body = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "about:blank");
            writer.WriteString("title", problem.Title);
            writer.WriteNumber("status", problem.Status);
            writer.WriteString("detail", problem.Detail);
            writer.WriteString("instance", context.Request.Path.Value);
            writer.WriteString("code", problem.Code);
            foreach ((string key, object? value) in problem.Extensions)
            {
                writer.WritePropertyName(key);
                JsonSerializer.Serialize(writer, value, value?.GetType() ?? typeof(object), ProblemJson.Options);
            }

            writer.WriteEndObject();
        }

        context.Response.ContentLength = body.WrittenCount;
        try
        {
            await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
        }
    }

    /// <summary>Settings for the extension members of problem documents (anonymous objects, arrays of names).</summary>
    private static class ProblemJson
    {
        internal static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
    }
}
