using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text.Json;
using IpcKit.Gateway.Channels;
using IpcKit.Gateway.Json;
using IpcKit.Gateway.WebSockets;
using IpcKit.SharedMemory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace IpcKit.Gateway.Http;

/// <summary>
/// The gateway's endpoints. Every handler is a plain <see cref="RequestDelegate"/> (no model binding: the body is read
/// and checked by <see cref="MessageCodec"/>, so every refusal has a precise problem document) and throws
/// <see cref="GatewayProblem"/> for anything it refuses; <see cref="GatewayGuard"/> writes it.
/// </summary>
internal sealed class GatewayEndpoints
{
    /// <summary>The WebSocket subprotocol the gateway speaks (JSON text frames, one message each).</summary>
    public const string SubProtocol = "ipckit.v1";

    /// <summary>A WebSocket subprotocol carrying the token, for browsers, which cannot set headers on a WebSocket.</summary>
    public const string BearerProtocolPrefix = "ipckit.bearer.";

    /// <summary>The query parameter that may carry the token on a WebSocket upgrade.</summary>
    public const string TokenQueryParameter = "access_token";

    private const int DefaultMax = 100;

    /// <summary>A WebSocket is a GET upgrade on HTTP/1.1 and an extended CONNECT on HTTP/2 (RFC 8441).</summary>
    private static readonly string[] s_webSocketMethods = [HttpMethods.Get, HttpMethods.Connect];
    private const int MaxMessagesPerGet = 10_000;
    private const int MaxTimeoutMilliseconds = 60_000;

    /// <summary>WebSocket pings keep idle connections alive through proxies; a client that answers none in 30 s is gone.</summary>
    private static readonly TimeSpan s_keepAliveInterval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan s_keepAliveTimeout = TimeSpan.FromSeconds(30);

    private static readonly ResponseDoc[] s_channelProblems =
    [
        new(400, "Malformed JSON, an unknown type, a message that does not fit its contract, a bad name or parameter.", "Problem"),
        new(401, "No token, or a wrong one.", "Problem"),
    ];

    private readonly GatewayContext _context;
    private readonly ChannelRegistry _channels;
    private readonly GatewayGuard? _guard;
    private readonly string _prefix;
    private readonly HashSet<OperationDoc> _operations = new(ReferenceEqualityComparer.Instance);
    private IEndpointRouteBuilder? _routes;
    private byte[]? _openApi;

    /// <param name="context">The gateway's shared state.</param>
    /// <param name="channels">Its rings and pipes.</param>
    /// <param name="guard">Wrapped around every endpoint when the gateway is mounted in an app; null when self-hosted (then it is middleware).</param>
    /// <param name="prefix">The path the endpoints are mapped under ("" when self-hosted).</param>
    public GatewayEndpoints(GatewayContext context, ChannelRegistry channels, GatewayGuard? guard, string prefix)
    {
        _context = context;
        _channels = channels;
        _guard = guard;
        _prefix = prefix;
    }

    /// <summary>Every endpoint as "METHOD /route" (relative to the prefix), from the routing table.</summary>
    public IReadOnlyList<string> Endpoints =>
        [.. OwnEndpoints().SelectMany(endpoint => Methods(endpoint).Select(method => $"{method} {RelativeRoute(endpoint)}"))];

    private GatewayOptions Options => _context.Options;

    private MessageCodec Codec => _context.Codec;

    /// <summary>Maps the endpoints on <paramref name="app"/> (a route group with the prefix when mounted).</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        _routes = app;
        ParameterDoc timeoutWrite = new("timeout", "integer", "How long to wait for room in a full ring, in milliseconds (default: the gateway's write timeout).") { Minimum = 1, Maximum = MaxTimeoutMilliseconds };
        ParameterDoc timeoutRequest = new("timeout", "integer", "How long to wait for the answer, in milliseconds (default: the gateway's request timeout).") { Minimum = 1, Maximum = MaxTimeoutMilliseconds };
        ParameterDoc overflow = new("overflow", "string", "What happens when this client reads too slowly: close (status 1008) or skip (drop the oldest queued messages and send an ipckit.skipped frame). Default: the gateway's policy.") { Values = ["close", "skip"] };
        ParameterDoc token = new(TokenQueryParameter, "string", "The bearer token, for clients that can set neither a header nor a subprotocol (it may end up in logs and history; prefer the subprotocol).");
        ResponseDoc notFound = new(404, "The ring does not exist.", "Problem");
        ResponseDoc roleTaken = new(409, "Another process holds the role the gateway needs on the ring.", "Problem");
        ResponseDoc noServer = new(503, "No server listens on the pipe (Retry-After).", "Problem");
        ResponseDoc tooLarge = new(413, "The body is larger than the gateway takes, or a message larger than the channel takes.", "Problem");
        ResponseDoc unsupported = new(415, "The body is not application/json.", "Problem");

        Add(app.MapGet("/health", Guarded(HealthAsync)), new OperationDoc(
            "getHealth", "Whether the gateway is up.", "Answers without the token, so supervisors and load balancers can probe it; it tells nothing about channels.")
        {
            Anonymous = true,
            Responses = [new(200, "The gateway is up.", "Health")],
        });

        Add(app.MapGet("/openapi.json", Guarded(OpenApiAsync)), new OperationDoc(
            "getOpenApi", "This OpenAPI description.", "Generated from the endpoints the gateway maps and the contracts it knows. Answers without the token.")
        {
            Anonymous = true,
            Responses = [new(200, "The OpenAPI 3.1 document.")],
        });

        Add(app.MapGet("/contracts", Guarded(ContractsAsync)), new OperationDoc(
            "getContracts", "The message types the gateway knows.", "Each type's name for the \"type\" field, its full CLR name, its message type id on the wire, and for requests the type of the answer.")
        {
            Responses = [new(200, "The contract types.", "Contracts"), s_channelProblems[1]],
        });

        Add(app.MapPost("/rings/{name}/messages", Guarded(PostRingAsync)), new OperationDoc(
            "postRingMessages", "Write messages into a ring.",
            "One message (an object) or a batch (an array), converted to MessagePack and written in order, waiting for room up to the timeout. The gateway attaches as the ring's writer and stays attached. A batch is checked as a whole before anything is written.")
        {
            Query = [timeoutWrite],
            RequestBody = "MessageOrBatch",
            Responses = [new(202, "Written into the ring.", "Accepted"), .. s_channelProblems, notFound, roleTaken, tooLarge, unsupported, new(503, "The ring stayed full (Retry-After); 'written' says how many of a batch went in.", "Problem")],
        });

        Add(app.MapGet("/rings/{name}/messages", Guarded(GetRingAsync)), new OperationDoc(
            "getRingMessages", "Read (and consume) up to max messages from a ring.",
            "The gateway attaches as the ring's reader and stays attached. Messages are consumed when read: delivery is at most once. A response stops at max messages or about 4 MiB of JSON.")
        {
            Query =
            [
                new("max", "integer", "The most messages to return.") { Default = DefaultMax, Minimum = 1, Maximum = MaxMessagesPerGet },
                new("wait", "integer", "If none is there, wait this long for the first one, in milliseconds (long polling).") { Default = 0, Minimum = 0, Maximum = MaxTimeoutMilliseconds },
            ],
            Responses = [new(200, "The messages read (possibly none).", "ReadMessages"), .. s_channelProblems, notFound, roleTaken, new(409, "The ring is streamed to WebSocket subscribers (code 'streamed').", "Problem")],
        });

        Add(app.MapDelete("/rings/{name}/writer", Guarded(context => ReleaseRingAsync(context, writer: true))), new OperationDoc(
            "deleteRingWriter", "Detach the gateway as the ring's writer.", "Lets another process become the writer. The next POST attaches again.")
        {
            Responses = [new(204, "Detached."), new(404, "The gateway was not the ring's writer.", "Problem"), .. s_channelProblems],
        });

        Add(app.MapDelete("/rings/{name}/reader", Guarded(context => ReleaseRingAsync(context, writer: false))), new OperationDoc(
            "deleteRingReader", "Detach the gateway as the ring's reader.", "Lets another process become the reader. The next GET or subscription attaches again.")
        {
            Responses = [new(204, "Detached."), new(404, "The gateway was not the ring's reader.", "Problem"), new(409, "WebSocket subscribers are reading the ring.", "Problem"), .. s_channelProblems],
        });

        Add(app.MapMethods("/rings/{name}/ws", s_webSocketMethods, Guarded(RingWebSocketAsync)), new OperationDoc(
            "ringWebSocket", "Subscribe to a ring over a WebSocket.",
            "Every message read from the ring arrives as a JSON text frame, in order, fanned out to all subscribers (on a broadcast ring each client has a subscription of its own, from now or, with start=oldest, from the oldest message still in the ring; a lossy ring's lapped client gets an ipckit.skipped frame). JSON text frames the client sends (a message or a batch) are written into the ring; errors come back as ipckit.error frames. With subscribe=false the gateway only writes (it does not become the reader). Offer the subprotocol ipckit.v1, and the token as a header, as a second subprotocol ipckit.bearer.TOKEN, or as access_token.")
        {
            WebSocket = true,
            Query = [
                overflow,
                new("subscribe", "boolean", "Whether to receive the ring's messages (the gateway becomes the ring's reader, or on a broadcast ring one more subscriber); false only sends.") { Default = true },
                new("start", "string", "Broadcast rings only: receive from now (default) or from the oldest message still in the ring.") { Values = ["now", "oldest"] },
                token,
            ],
            Responses = [new(101, "Switched to the WebSocket protocol."), .. s_channelProblems, notFound, roleTaken],
        });

        Add(app.MapPost("/pipes/{name}/messages", Guarded(PostPipeAsync)), new OperationDoc(
            "postPipeMessages", "Send one-way messages to a pipe server.",
            "One message or a batch, each sent as a one-way message on the gateway's connection to the server (one connection per pipe, shared by all clients). 202 means queued for the server, in order.")
        {
            RequestBody = "MessageOrBatch",
            Responses = [new(202, "Queued for the server.", "Accepted"), .. s_channelProblems, tooLarge, unsupported, new(502, "The connection to the server broke.", "Problem"), noServer],
        });

        Add(app.MapPost("/pipes/{name}/requests", Guarded(PostRequestAsync)), new OperationDoc(
            "postPipeRequest", "Send a request to a pipe server and return its answer.",
            "The request's type must be registered as a request (its answer's type is known), or raw (the answer is raw too).")
        {
            Query = [timeoutRequest],
            RequestBody = "Message",
            Responses =
            [
                new(200, "The server's answer.", "ReceivedMessage"), .. s_channelProblems, tooLarge, unsupported,
                new(502, "The server's handler failed (remoteType, remoteMessage), the server broke the protocol or went away.", "Problem"),
                noServer, new(504, "No answer within the timeout.", "Problem"),
            ],
        });

        Add(app.MapDelete("/pipes/{name}/connection", Guarded(DisconnectPipeAsync)), new OperationDoc(
            "deletePipeConnection", "Close the gateway's connection to a pipe server.", "Its WebSocket subscribers are closed; the next request connects again.")
        {
            Responses = [new(204, "Closed."), new(404, "The gateway had no connection to the pipe.", "Problem"), .. s_channelProblems],
        });

        Add(app.MapMethods("/pipes/{name}/ws", s_webSocketMethods, Guarded(PipeWebSocketAsync)), new OperationDoc(
            "pipeWebSocket", "Subscribe to a pipe server's pushes over a WebSocket.",
            "Every one-way message the server sends to the gateway's connection arrives as a JSON text frame, fanned out to all subscribers. JSON text frames the client sends are sent to the server as one-way messages; errors come back as ipckit.error frames. Token and subprotocol as for rings.")
        {
            WebSocket = true,
            Query = [overflow, token],
            Responses = [new(101, "Switched to the WebSocket protocol."), .. s_channelProblems, noServer],
        });

        if (_guard is not null)
        {
            // Mounted: any other path under the prefix is the gateway's too, and reveals nothing without the token.
            Add(app.Map("/{**path}", Guarded(static context => throw new GatewayProblem(
                StatusCodes.Status404NotFound, "no-such-endpoint", "No such endpoint.", $"There is no endpoint {context.Request.Path}; see openapi.json."))),
                new OperationDoc("unknown", "Any other path.", "") { Hidden = true });
        }
    }

    /// <summary>Attaches the endpoint's description (also what marks it as this gateway's) and remembers it.</summary>
    private void Add(IEndpointConventionBuilder endpoint, OperationDoc operation)
    {
        _operations.Add(operation);
        endpoint.WithMetadata(operation);
    }

    /// <summary>The handler itself when self-hosted (the guard is middleware); wrapped in the guard when mounted.</summary>
    private RequestDelegate Guarded(RequestDelegate handler)
    {
        GatewayGuard? guard = _guard;
        return guard is null ? handler : context => guard.InvokeAsync(context, handler);
    }

    private IEnumerable<RouteEndpoint> OwnEndpoints() =>
        (_routes?.DataSources ?? []).SelectMany(source => source.Endpoints).OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.Metadata.GetMetadata<OperationDoc>() is { Hidden: false } operation && _operations.Contains(operation));

    /// <summary>The methods an endpoint answers, less CONNECT (HTTP/2's form of a WebSocket GET, which OpenAPI has no word for).</summary>
    private static IEnumerable<string> Methods(RouteEndpoint endpoint) =>
        (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Where(method => !HttpMethods.IsConnect(method));

    private string RelativeRoute(RouteEndpoint endpoint)
    {
        string route = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
        return _prefix.Length > 0 && route.StartsWith(_prefix, StringComparison.Ordinal) ? "/" + route[_prefix.Length..].TrimStart('/') : route;
    }

    private static string RouteName(HttpContext context) => (string)context.Request.RouteValues["name"]!;

    private static Task HealthAsync(HttpContext context) =>
        WriteJsonAsync(context, StatusCodes.Status200OK, static writer => writer.WriteString("status", "ok"));

    private Task OpenApiAsync(HttpContext context)
    {
        // Built on first use: endpoints mapped in a route group exist only once the app's routing has been built.
        _openApi ??= OpenApiDocument.Build(
            OwnEndpoints().Select(endpoint => (RelativeRoute(endpoint), endpoint)), Methods, _prefix, Codec.Registry);
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.Body.WriteAsync(_openApi, context.RequestAborted).AsTask();
    }

    private Task ContractsAsync(HttpContext context) => WriteJsonAsync(context, StatusCodes.Status200OK, writer =>
    {
        writer.WriteStartArray("contracts");
        foreach (ContractBinding binding in Codec.Registry.Bindings)
        {
            writer.WriteStartObject();
            writer.WriteString("name", binding.Name);
            writer.WriteString("fullName", binding.FullName);
            writer.WriteNumber("typeId", binding.TypeId);
            if (binding.Response is { } response)
            {
                writer.WriteString("responseType", response.Name);
            }
            else
            {
                writer.WriteNull("responseType");
            }

            if (binding.IsUnion)
            {
                // A union's messages name their member in "type"; the union's own name is not a message type.
                writer.WriteStartArray("members");
                foreach (UnionMember member in binding.Members)
                {
                    writer.WriteStringValue(member.Name);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    });

    private async Task PostRingAsync(HttpContext context)
    {
        RingSlot slot = _channels.Ring(RouteName(context));
        TimeSpan timeout = QueryMilliseconds(context, "timeout", Options.WriteTimeout, 1);
        List<OutgoingMessage> messages = await ReadMessagesAsync(context, allowBatch: true).ConfigureAwait(false);
        await slot.WriteAsync(messages, timeout, context.RequestAborted).ConfigureAwait(false);
        await WriteJsonAsync(context, StatusCodes.Status202Accepted, writer =>
        {
            writer.WriteString("ring", slot.Name);
            writer.WriteNumber("count", messages.Count);
        }).ConfigureAwait(false);
    }

    private async Task GetRingAsync(HttpContext context)
    {
        RingSlot slot = _channels.Ring(RouteName(context));
        int max = QueryInt(context, "max", DefaultMax, 1, MaxMessagesPerGet);
        TimeSpan wait = QueryMilliseconds(context, "wait", TimeSpan.Zero, 0);
        var body = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(body, GatewayJson.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("ring", slot.Name);
            writer.WriteStartArray("messages");
            int count = await slot.ReadAsync(writer, max, wait, context.RequestAborted, _context.Stopping).ConfigureAwait(false);
            writer.WriteEndArray();
            writer.WriteNumber("count", count);
            writer.WriteEndObject();
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.WrittenCount;

        // The messages are consumed already; a client gone by now loses them (at-most-once, as documented).
        await context.Response.Body.WriteAsync(body.WrittenMemory, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task ReleaseRingAsync(HttpContext context, bool writer)
    {
        RingSlot slot = _channels.Ring(RouteName(context));
        if (!await slot.ReleaseAsync(writer, context.RequestAborted).ConfigureAwait(false))
        {
            string role = writer ? "writer" : "reader";
            throw new GatewayProblem(StatusCodes.Status404NotFound, "not-held", $"The gateway is not the ring's {role}.", $"The gateway is not attached as the {role} of ring '{slot.Name}'.");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task PostPipeAsync(HttpContext context)
    {
        string name = RouteName(context);
        List<OutgoingMessage> messages = await ReadMessagesAsync(context, allowBatch: true).ConfigureAwait(false);
        PipeHub hub = await _channels.PipeAsync(name, context.RequestAborted).ConfigureAwait(false);
        await SendToPipeAsync(hub, messages, context.RequestAborted).ConfigureAwait(false);
        await WriteJsonAsync(context, StatusCodes.Status202Accepted, writer =>
        {
            writer.WriteString("pipe", name);
            writer.WriteNumber("count", messages.Count);
        }).ConfigureAwait(false);
    }

    private async Task PostRequestAsync(HttpContext context)
    {
        string name = RouteName(context);
        TimeSpan timeout = QueryMilliseconds(context, "timeout", Options.RequestTimeout, 1);
        OutgoingMessage request = (await ReadMessagesAsync(context, allowBatch: false).ConfigureAwait(false))[0];
        if (request.Binding is { Response: null } binding)
        {
            string[] requests = [.. Codec.Registry.Bindings.Where(b => b.Response is not null).SelectMany(b => b.IsUnion ? b.Members.Select(m => m.Name) : [b.Name]), GatewayJson.RawTypeName];
            throw GatewayProblem.BadRequest(
                "not-a-request", $"{request.TypeName} is not registered as a request type, so the type of its answer is unknown. Requests: {string.Join(", ", requests)}.")
                .With("requestTypes", requests);
        }

        PipeHub hub = await _channels.PipeAsync(name, context.RequestAborted).ConfigureAwait(false);
        var body = new ArrayBufferWriter<byte>(256);

        // A request may wait long for its answer; stopping the gateway must not wait for it.
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _context.Stopping);
        try
        {
            if (request.Binding is null)
            {
                IpcMessage answer = await hub.Client.RequestRawAsync(request.Raw, timeout: timeout, cancellationToken: cancellation.Token).ConfigureAwait(false);
                using var writer = new Utf8JsonWriter(body, GatewayJson.WriterOptions);
                MessageCodec.WriteRaw(writer, answer.Body.Span);
            }
            else
            {
                object answer = await request.Binding.RequestAsync(hub.Client, request.Value!, timeout, cancellation.Token).ConfigureAwait(false);
                using var writer = new Utf8JsonWriter(body, GatewayJson.WriterOptions);
                MessageCodec.WriteValue(writer, request.Binding.Response!, answer);
            }
        }
        catch (ArgumentException exception) when (exception.ParamName is "request" or "body")
        {
            throw ChannelProblems.TooLarge(exception.Message);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw ChannelProblems.Pipe(exception, name);
        }

        _context.Statistics.In(1);
        _context.Statistics.Out(1);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.WrittenCount;
        await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task DisconnectPipeAsync(HttpContext context)
    {
        string name = RouteName(context);
        if (!await _channels.DisconnectAsync(name).ConfigureAwait(false))
        {
            throw new GatewayProblem(StatusCodes.Status404NotFound, "not-connected", "The gateway is not connected to the pipe.", $"The gateway has no connection to pipe '{name}'.");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task RingWebSocketAsync(HttpContext context)
    {
        RingSlot slot = _channels.Ring(RouteName(context));
        SlowClientPolicy policy = QueryPolicy(context);
        bool subscribe = QueryBool(context, "subscribe", true);
        RingStart? start = QueryStart(context);
        string? protocol = NegotiateProtocol(context);

        // Attach as the reader before accepting, so a missing ring or a taken role is an HTTP problem, not a dead socket.
        RingHub? hub = subscribe ? await slot.JoinAsync(start, context.RequestAborted).ConfigureAwait(false) : null;
        try
        {
            (WebSocket accepted, FrameLimitStream limiter) = await AcceptAsync(context, protocol).ConfigureAwait(false);
            using WebSocket socket = accepted;
            using var session = new WebSocketSession(socket, limiter, $"ring '{slot.Name}'", _context, policy);
            hub?.Add(session);
            try
            {
                await session.RunAsync(
                    async (json, cancellationToken) =>
                    {
                        List<OutgoingMessage> messages = Codec.Parse(json, allowBatch: true);
                        await slot.WriteAsync(messages, Options.WriteTimeout, cancellationToken).ConfigureAwait(false);
                    },
                    _context.Stopping).ConfigureAwait(false);
            }
            finally
            {
                hub?.Remove(session);
            }
        }
        finally
        {
            if (hub is not null)
            {
                await slot.LeaveAsync(hub).ConfigureAwait(false);
            }
        }
    }

    private async Task PipeWebSocketAsync(HttpContext context)
    {
        string name = RouteName(context);
        SlowClientPolicy policy = QueryPolicy(context);
        string? protocol = NegotiateProtocol(context);
        PipeHub hub = await _channels.PipeAsync(name, context.RequestAborted).ConfigureAwait(false);
        (WebSocket accepted, FrameLimitStream limiter) = await AcceptAsync(context, protocol).ConfigureAwait(false);
        using WebSocket socket = accepted;
        using var session = new WebSocketSession(socket, limiter, $"pipe '{name}'", _context, policy);
        hub.Add(session);
        try
        {
            if (!hub.IsConnected)
            {
                // The connection ended between the lookup and the Add: nobody would close this client.
                session.Close(WebSocketCloseStatus.InternalServerError, $"pipe '{name}': the connection to the server ended");
            }

            await session.RunAsync(
                async (json, cancellationToken) =>
                {
                    List<OutgoingMessage> messages = Codec.Parse(json, allowBatch: true);
                    PipeHub current = await _channels.PipeAsync(name, cancellationToken).ConfigureAwait(false);
                    await SendToPipeAsync(current, messages, cancellationToken).ConfigureAwait(false);
                },
                _context.Stopping).ConfigureAwait(false);
        }
        finally
        {
            hub.Remove(session);
        }
    }

    private async Task SendToPipeAsync(PipeHub hub, List<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        int sent = 0;
        try
        {
            for (; sent < messages.Count; sent++)
            {
                OutgoingMessage message = messages[sent];
                ValueTask send = message.Binding is null
                    ? hub.Client.SendRawAsync(message.Raw, cancellationToken: cancellationToken)
                    : message.Binding.SendAsync(hub.Client, message.Value!, cancellationToken);
                await send.ConfigureAwait(false);
            }
        }
        catch (ArgumentException exception) when (exception.ParamName is "message" or "body")
        {
            // Refused before anything of this message was written: it is larger than the server takes.
            GatewayProblem problem = ChannelProblems.TooLarge(exception.Message);
            throw sent > 0 ? problem.With("written", sent) : problem;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            GatewayProblem problem = ChannelProblems.Pipe(exception, hub.Name);
            throw sent > 0 ? problem.With("written", sent) : problem;
        }
        finally
        {
            _context.Statistics.In(sent);
        }
    }

    /// <summary>Reads the JSON body (application/json, at most MaxBodyBytes) and parses the message(s) in it.</summary>
    private async Task<List<OutgoingMessage>> ReadMessagesAsync(HttpContext context, bool allowBatch)
    {
        if (!IsJson(context.Request.ContentType))
        {
            throw new GatewayProblem(
                StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "The body must be JSON.",
                $"The Content-Type is '{context.Request.ContentType}'; send application/json (UTF-8).");
        }

        if (context.Request.ContentLength > Options.MaxBodyBytes)
        {
            throw BodyTooLarge(context.Request.ContentLength.Value);
        }

        PipeReader reader = context.Request.BodyReader;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length > Options.MaxBodyBytes)
            {
                reader.AdvanceTo(buffer.End);
                throw BodyTooLarge(buffer.Length);
            }

            if (!result.IsCompleted)
            {
                // Consume nothing, look at everything: the next read returns the whole body so far.
                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            try
            {
                return Codec.Parse(buffer, allowBatch);
            }
            finally
            {
                reader.AdvanceTo(buffer.End);
            }
        }
    }

    private GatewayProblem BodyTooLarge(long length) => new(
        StatusCodes.Status413PayloadTooLarge, "body-too-large", "The body is too large.",
        $"The body has {length} bytes or more; the gateway takes at most {Options.MaxBodyBytes} (--max-body).");

    private static bool IsJson(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out MediaTypeHeaderValue? media))
        {
            return false;
        }

        bool json = media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (media.Suffix.HasValue && media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        return json && (!media.Charset.HasValue || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));
    }

    private Task<(WebSocket Socket, FrameLimitStream Limiter)> AcceptAsync(HttpContext context, string? protocol) =>
        WebSocketHandshake.AcceptAsync(context, protocol, Options.MaxBodyBytes, s_keepAliveInterval, s_keepAliveTimeout);

    /// <summary>The subprotocol to answer with: ipckit.v1 if offered; a client that offers others but not it is refused.</summary>
    private static string? NegotiateProtocol(HttpContext context)
    {
        if (!WebSocketHandshake.IsUpgradeRequest(context))
        {
            throw GatewayProblem.BadRequest("websocket-required", "This endpoint takes WebSocket upgrade requests only.");
        }

        string[] offered = WebSocketHandshake.RequestedProtocols(context);
        if (offered.Length == 0)
        {
            return null;
        }

        return offered.Contains(SubProtocol)
            ? SubProtocol
            : throw GatewayProblem.BadRequest(
                "subprotocol", $"The client offered WebSocket subprotocols but not '{SubProtocol}'; offer '{SubProtocol}' (and the token as '{BearerProtocolPrefix}TOKEN' if you cannot send a header).");
    }

    private SlowClientPolicy QueryPolicy(HttpContext context)
    {
        string? value = context.Request.Query["overflow"];
        return value switch
        {
            null => Options.SlowClientPolicy,
            "close" => SlowClientPolicy.Close,
            "skip" => SlowClientPolicy.Skip,
            _ => throw GatewayProblem.BadRequest("invalid-argument", $"overflow is '{value}'; use close or skip."),
        };
    }

    /// <summary>Where a broadcast subscription starts: null when not given (now).</summary>
    private static RingStart? QueryStart(HttpContext context)
    {
        string? value = context.Request.Query["start"];
        return value switch
        {
            null => null,
            "now" => RingStart.Now,
            "oldest" => RingStart.Oldest,
            _ => throw GatewayProblem.BadRequest("invalid-argument", $"start is '{value}'; use now or oldest."),
        };
    }

    private static bool QueryBool(HttpContext context, string name, bool defaultValue)
    {
        string? value = context.Request.Query[name];
        return value switch
        {
            null => defaultValue,
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw GatewayProblem.BadRequest("invalid-argument", $"{name} is '{value}'; use true or false."),
        };
    }

    private static int QueryInt(HttpContext context, string name, int defaultValue, int minimum, int maximum)
    {
        string? value = context.Request.Query[name];
        if (value is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number < minimum || number > maximum)
        {
            throw GatewayProblem.BadRequest("invalid-argument", $"{name} is '{value}'; use a whole number from {minimum} to {maximum}.");
        }

        return number;
    }

    private static TimeSpan QueryMilliseconds(HttpContext context, string name, TimeSpan defaultValue, int minimum) =>
        context.Request.Query.ContainsKey(name)
            ? TimeSpan.FromMilliseconds(QueryInt(context, name, 0, minimum, MaxTimeoutMilliseconds))
            : defaultValue;

    /// <summary>Writes a small JSON object as the response.</summary>
    internal static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> members)
    {
        var body = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            members(writer);
            writer.WriteEndObject();
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.WrittenCount;
        await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }
}
