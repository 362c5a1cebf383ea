namespace IpcKit.Extensions.Hosting;

/// <summary>One pipe or ring registered with <see cref="IpcKitBuilder"/>: its name, its kind, its handlers.</summary>
internal sealed class ChannelRegistration
{
    internal ChannelRegistration(string name, ChannelKind kind, string configurationPath)
    {
        Name = name;
        Kind = kind;
        ConfigurationPath = configurationPath;
    }

    /// <summary>The name it was registered under: its configuration key, its DI key, the key a paired child gets it under.</summary>
    internal string Name { get; }

    internal ChannelKind Kind { get; }

    /// <summary>Where its options are read from, for example "IpcKit:Pipes:calc".</summary>
    internal string ConfigurationPath { get; }

    internal HandlerMap Handlers { get; } = new();

    internal bool IsPipe => Kind is ChannelKind.PipeServer or ChannelKind.PipeClient;

    internal string Describe() => Kind switch
    {
        ChannelKind.PipeServer => $"pipe server '{Name}'",
        ChannelKind.PipeClient => $"pipe client '{Name}'",
        ChannelKind.RingConsumer => $"ring consumer '{Name}'",
        _ => $"ring producer '{Name}'",
    };
}
