using IpcKit.Gateway.Json;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway.Channels;

/// <summary>What every part of one gateway shares: its options, the JSON codec, the counters, the log and the stop signal.</summary>
internal sealed class GatewayContext
{
    public GatewayContext(GatewayOptions options, MessageCodec codec, GatewayStatistics statistics, ILogger logger, CancellationToken stopping)
    {
        Options = options;
        Codec = codec;
        Statistics = statistics;
        Logger = logger;
        Stopping = stopping;
    }

    public GatewayOptions Options { get; }

    public MessageCodec Codec { get; }

    public GatewayStatistics Statistics { get; }

    public ILogger Logger { get; }

    /// <summary>Cancelled when the gateway stops.</summary>
    public CancellationToken Stopping { get; }
}
