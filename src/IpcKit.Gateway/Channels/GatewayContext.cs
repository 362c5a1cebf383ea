using IpcKit.Gateway.Http;
using IpcKit.Gateway.Json;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway.Channels;

/// <summary>What every part of one gateway shares: its options, token, Host check, JSON codec, counters, log and stop signal.</summary>
internal sealed class GatewayContext
{
    public GatewayContext(GatewayOptions options, GatewayToken token, HostCheck hosts, MessageCodec codec, GatewayStatistics statistics, ILogger logger, CancellationToken stopping)
    {
        Options = options;
        Token = token;
        Hosts = hosts;
        Codec = codec;
        Statistics = statistics;
        Logger = logger;
        Stopping = stopping;
    }

    public GatewayOptions Options { get; }

    public GatewayToken Token { get; }

    public HostCheck Hosts { get; }

    public MessageCodec Codec { get; }

    public GatewayStatistics Statistics { get; }

    public ILogger Logger { get; }

    /// <summary>Cancelled when the gateway stops.</summary>
    public CancellationToken Stopping { get; }
}
