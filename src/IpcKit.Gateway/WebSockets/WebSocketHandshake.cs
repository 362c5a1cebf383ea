using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;

namespace IpcKit.Gateway.WebSockets;

// The server side of the WebSocket opening handshake, done by the gateway itself rather than by UseWebSockets, so that
// (1) the upgraded stream can be read through FrameLimitStream, which closes a client announcing an oversized message
// before its payload arrives, and (2) a gateway mounted in an app works whether or not the app uses the WebSocket
// middleware. HTTP/1.1 (RFC 6455 section 4.2: GET, Upgrade: websocket, Connection: Upgrade, version 13, a key of 16
// bytes; the answer 101 carries SHA-1(key + GUID) in base64) and HTTP/2 (RFC 8441: extended CONNECT with :protocol
// websocket; the answer is 200).
internal static class WebSocketHandshake
{
    private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>Whether the request is a complete WebSocket upgrade request (not merely one with an Upgrade header).</summary>
    public static bool IsUpgradeRequest(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            return HttpMethods.IsConnect(request.Method)
                && string.Equals(connect.Protocol, "websocket", StringComparison.OrdinalIgnoreCase)
                && HasVersion13(request);
        }

        return context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
            && HttpMethods.IsGet(request.Method)
            && HasToken(request.Headers.GetCommaSeparatedValues("Upgrade"), "websocket")
            && HasToken(request.Headers.GetCommaSeparatedValues("Connection"), "Upgrade")
            && HasVersion13(request)
            && IsValidKey(request.Headers.SecWebSocketKey.ToString());
    }

    /// <summary>The subprotocols the client offered (Sec-WebSocket-Protocol), in order.</summary>
    public static string[] RequestedProtocols(HttpContext context) => context.Request.Headers.GetCommaSeparatedValues("Sec-WebSocket-Protocol");

    /// <summary>Answers the upgrade and returns the server WebSocket over the upgraded connection, read through a <see cref="FrameLimitStream"/>.</summary>
    public static async Task<(WebSocket Socket, FrameLimitStream Limiter)> AcceptAsync(
        HttpContext context, string? subProtocol, long maxMessage, TimeSpan keepAliveInterval, TimeSpan keepAliveTimeout)
    {
        if (!IsUpgradeRequest(context))
        {
            throw new InvalidOperationException("Not a WebSocket upgrade request.");
        }

        IHeaderDictionary headers = context.Response.Headers;
        if (subProtocol is not null)
        {
            headers.SecWebSocketProtocol = subProtocol;
        }

        Stream transport;
        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            transport = await connect.AcceptAsync().ConfigureAwait(false);
        }
        else
        {
            headers.Connection = "Upgrade";
            headers.Upgrade = "websocket";
            headers.SecWebSocketAccept = AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
            transport = await context.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync().ConfigureAwait(false);
        }

        // A WebSocket lives as long as its client wants; a request timeout an app configured must not cut it.
        context.Features.Get<IHttpRequestTimeoutFeature>()?.DisableTimeout();
        var limiter = new FrameLimitStream(transport, context, maxMessage);
        WebSocket socket = WebSocket.CreateFromStream(limiter, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subProtocol,
            KeepAliveInterval = keepAliveInterval,
            KeepAliveTimeout = keepAliveTimeout,
        });
        limiter.WebSocket = socket;
        return (socket, limiter);
    }

    /// <summary>Sec-WebSocket-Accept: base64(SHA-1(key + the RFC 6455 GUID)).</summary>
    /// <remarks>SHA-1 is what RFC 6455 prescribes here; it proves only that the server read the key, and protects nothing.</remarks>
#pragma warning disable CA5350
    internal static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + Guid)));
#pragma warning restore CA5350

    private static bool HasVersion13(HttpRequest request) =>
        HasToken(request.Headers.GetCommaSeparatedValues("Sec-WebSocket-Version"), "13");

    private static bool HasToken(string[] values, string token) =>
        values.Any(value => string.Equals(value.Trim(), token, StringComparison.OrdinalIgnoreCase));

    private static bool IsValidKey(string key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64String(key, decoded, out int length) && length == 16;
    }
}
