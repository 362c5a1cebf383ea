namespace IpcKit.Extensions.Hosting;

/// <summary>Everything registered through <see cref="IpcKitBuilder"/>, held in the service collection as one singleton.</summary>
internal sealed class IpcKitRegistry
{
    internal IpcKitRegistry(string sectionPath) => SectionPath = sectionPath;

    /// <summary>The configuration section of the whole package, "IpcKit" by default.</summary>
    internal string SectionPath { get; }

    internal List<ChannelRegistration> Channels { get; } = [];

    internal List<PairedProcessRegistration> Processes { get; } = [];

    internal ChannelRegistration? Find(string name, ChannelKind kind) =>
        Channels.Find(channel => channel.Kind == kind && string.Equals(channel.Name, name, StringComparison.Ordinal));
}
