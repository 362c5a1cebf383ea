using IpcKit.Hosting;

namespace IpcKit.Extensions.Hosting;

/// <summary>
/// This process's pairing with a parent, when a <see cref="PairedProcess"/> started it: attached on first use (when the
/// host validates its options or starts), so the channel names the parent passed are known before any channel opens.
/// </summary>
internal sealed class PairingState
{
    /// <summary>
    /// How long a child whose parent died may take to stop before the process is ended: longer than the host's default
    /// shutdown timeout (30 s), so the host's own drain decides. An app that wants another calls
    /// <see cref="PairedChild.Attach(PairedChildOptions)"/> itself before the host starts; the first call wins.
    /// </summary>
    internal static TimeSpan ParentDiedGracePeriod { get; } = TimeSpan.FromSeconds(35);

    private readonly Lazy<PairedChild?> _child = new(
        () => PairedChild.IsPaired ? PairedChild.Attach(new PairedChildOptions { ParentDiedGracePeriod = ParentDiedGracePeriod }) : null);

    /// <summary>The pairing, or null when this process was not started as a paired child.</summary>
    internal PairedChild? Child => _child.Value;

    /// <summary>The OS name of a channel: the one set in its options, else the one the parent passed under its name, else its name.</summary>
    internal string Resolve(string channel, string? configured) =>
        configured ?? (Child is { } child && child.Channels.TryGetValue(channel, out string? passed) ? passed : channel);
}
