using System.Net;
using System.Net.WebSockets;
using System.Text;
using IpcKit.Gateway;
using IpcKit.SharedMemory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace IpcKit.Tests.Gateway;

/// <summary>
/// A gateway mounted in an app that speaks HTTP/2: browsers open WebSockets there with an extended CONNECT (RFC 8441),
/// not a GET upgrade. The client is .NET's, the only one at hand that speaks WebSockets over HTTP/2.
/// </summary>
public sealed class GatewayHttp2Tests
{
    [Fact]
    public async Task A_websocket_over_http2_reaches_a_mounted_gateway_with_the_token_checked()
    {
        string ring = UniqueName.Next("h2");
        RingBuffer.Create(ring, new RingOptions { Capacity = 4096 });
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddIpcGateway(options => options.Contracts = TestContracts.Demo());
        await using WebApplication app = builder.Build();
        app.MapIpcGateway("/ipc");
        try
        {
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            string token = app.Services.GetRequiredService<IpcGateway>().Token;
            var url = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + $"/ipc/rings/{ring}/ws?subscribe=false");
            using var handler = new SocketsHttpHandler();
            using var invoker = new HttpMessageInvoker(handler);

            using (var refused = Http2Client(null))
            {
                WebSocketException error = await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(url, invoker, TestTimeouts.UnexpectedToken()));
                Assert.Contains("401", error.Message, StringComparison.Ordinal);
            }

            using ClientWebSocket client = Http2Client(token);
            await client.ConnectAsync(url, invoker, TestTimeouts.UnexpectedToken());
            Assert.Equal("ipckit.v1", client.SubProtocol);
            Assert.Equal(HttpStatusCode.OK, client.HttpStatusCode);
            await client.SendAsync(Encoding.UTF8.GetBytes("""{"type":"Toy","sequence":1}"""), WebSocketMessageType.Text, endOfMessage: true, TestTimeouts.UnexpectedToken());
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", TestTimeouts.UnexpectedToken());
            Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
            Assert.True(RingBuffer.Inspect(ring).WritePosition > 0);
            await app.StopAsync();
        }
        finally
        {
            RingBuffer.Delete(ring);
        }
    }

    private static ClientWebSocket Http2Client(string? token)
    {
        var client = new ClientWebSocket();
        client.Options.HttpVersion = HttpVersion.Version20;
        client.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        client.Options.AddSubProtocol("ipckit.v1");
        client.Options.CollectHttpResponseDetails = true;
        if (token is not null)
        {
            client.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        }

        return client;
    }
}
