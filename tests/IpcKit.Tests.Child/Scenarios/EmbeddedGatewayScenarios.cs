using IpcKit.Gateway;

namespace IpcKit.Tests.Child;

/// <summary>A program that embeds a gateway and takes no process signals itself.</summary>
internal static class EmbeddedGatewayScenarios
{
    /// <summary>
    /// gateway-embedded: starts a gateway (no token file), prints READY and waits 30 s, then exits 3. A SIGINT or
    /// SIGTERM must end it the way it ends any .NET program without handlers: the gateway takes no signals.
    /// </summary>
    [Scenario("gateway-embedded")]
    internal static async Task<int> EmbeddedAsync(string[] args)
    {
        _ = args;
        await using IpcGateway gateway = await IpcGateway.StartAsync(new GatewayOptions { WriteTokenFile = false });
        Scenarios.Ready(gateway.Url ?? "");
        await Task.Delay(TimeSpan.FromSeconds(30));
        return 3;
    }
}
