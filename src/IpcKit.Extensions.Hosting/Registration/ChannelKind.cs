namespace IpcKit.Extensions.Hosting;

/// <summary>What a registered channel is in this process.</summary>
internal enum ChannelKind
{
    PipeServer,
    PipeClient,
    RingConsumer,
    RingProducer,
}
