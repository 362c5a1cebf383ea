using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace IpcKit.Gateway.Http;

/// <summary>
/// Runs around every endpoint: refuses Host names a loopback gateway does not answer to (DNS rebinding), checks the
/// bearer token (except on the anonymous endpoints), and turns every refusal or failure into an RFC 9457 problem
/// document, including the empty 404 and 405 answers of routing. Nothing a client sends can take the gateway down.
/// </summary>
internal sealed class GatewayMiddleware
{
    private readonly RequestDelegate _next;
    private readonly GatewayToken _token;
    private readonly GatewayStatistics _statistics;
    private readonly ILogger _logger;
    private readonly bool _loopbackOnly;
    private readonly CancellationToken _stopping;

    public GatewayMiddleware(RequestDelegate next, GatewayToken token, GatewayStatistics statistics, ILogger logger, IPAddress address, CancellationToken stopping)
    {
        _stopping = stopping;
        _next = next;
        _token = token;
        _statistics = statistics;
        _logger = logger;
        _loopbackOnly = IPAddress.IsLoopback(address);
    }

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            if (_loopbackOnly && !IsLoopbackHost(context.Request.Host))
            {
                throw GatewayProblem.BadRequest(
                    "host-not-allowed",
                    $"The gateway listens on loopback and answers only to the Host 127.0.0.1, [::1] or localhost, not '{context.Request.Host.Host}' (a protection against DNS rebinding).");
            }

            OperationDoc? operation = context.GetEndpoint()?.Metadata.GetMetadata<OperationDoc>();
            if (operation?.Anonymous != true)
            {
                Authenticate(context);
            }

            await _next(context).ConfigureAwait(false);
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
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            await WriteProblemAsync(context, new GatewayProblem(
                StatusCodes.Status503ServiceUnavailable, "stopping", "The gateway is stopping.", "The gateway stopped while this request waited.")).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            _logger.LogError(exception, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await WriteProblemAsync(context, new GatewayProblem(
                StatusCodes.Status500InternalServerError, "internal-error", "The gateway failed.", exception.Message, exception)).ConfigureAwait(false);
        }
    }

    private void Authenticate(HttpContext context)
    {
        StringValues authorization = context.Request.Headers.Authorization;
        bool offered = false;
        if (authorization.Count > 0)
        {
            offered = true;
            string value = authorization.ToString();
            if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && _token.Matches(value.AsSpan(7).Trim()))
            {
                return;
            }
        }

        // Browsers cannot set headers on a WebSocket: they may carry the token as a subprotocol or a query parameter.
        if (context.WebSockets.IsWebSocketRequest)
        {
            foreach (string protocol in context.WebSockets.WebSocketRequestedProtocols)
            {
                if (protocol.StartsWith(GatewayEndpoints.BearerProtocolPrefix, StringComparison.Ordinal))
                {
                    offered = true;
                    if (_token.Matches(protocol.AsSpan(GatewayEndpoints.BearerProtocolPrefix.Length)))
                    {
                        return;
                    }
                }
            }

            if (context.Request.Query.TryGetValue(GatewayEndpoints.TokenQueryParameter, out StringValues query))
            {
                offered = true;
                if (query.Count == 1 && _token.Matches(query.ToString()))
                {
                    return;
                }
            }
        }

        context.Response.Headers.WWWAuthenticate = offered ? "Bearer realm=\"ipckit\", error=\"invalid_token\"" : "Bearer realm=\"ipckit\"";
        throw new GatewayProblem(
            StatusCodes.Status401Unauthorized, "unauthorized", "A valid bearer token is required.",
            offered
                ? "The token is not this gateway's token."
                : "Send the token the gateway printed at start (and stored in its token file) as 'Authorization: Bearer TOKEN'.");
    }

    private static bool IsLoopbackHost(HostString host) =>
        !host.HasValue
        || host.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));

    private async Task WriteProblemAsync(HttpContext context, GatewayProblem problem)
    {
        _statistics.Problem(problem.Code);
        LogLevel level = problem.Status >= StatusCodes.Status500InternalServerError ? LogLevel.Warning : LogLevel.Information;
        if (_logger.IsEnabled(level))
        {
            _logger.Log(level, "{Method} {Path}: {Status} {Code}: {Detail}", context.Request.Method, context.Request.Path, problem.Status, problem.Code, problem.Detail);
        }


        if (context.Response.HasStarted)
        {
            // Too late for a status: end the response abruptly so the client cannot take it for complete.
            context.Abort();
            return;
        }

        string? authenticate = context.Response.Headers.WWWAuthenticate;
        context.Response.Clear();
        if (authenticate is not null)
        {
            context.Response.Headers.WWWAuthenticate = authenticate;
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
        internal static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    }
}
