using MessagePack;

namespace IpcKit.Serialization;

/// <summary>The MessagePack settings IpcKit uses for every contract that crosses a process boundary.</summary>
public static class IpcSerializer
{
    /// <summary>
    /// Standard resolver with <see cref="MessagePackSecurity.UntrustedData"/>: bytes written by another process are
    /// untrusted (bounded depth, hash-collision-resistant dictionaries). Typeless serialization is never used.
    /// </summary>
    public static MessagePackSerializerOptions Options { get; } =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);
}
