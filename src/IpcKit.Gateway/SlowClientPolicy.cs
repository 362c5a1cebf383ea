namespace IpcKit.Gateway;

/// <summary>What the gateway does with a WebSocket client whose send queue is full because it reads too slowly.</summary>
public enum SlowClientPolicy
{
    /// <summary>
    /// Close the client (status 1008, policy violation, with the reason "slow consumer ..."); if the close frame cannot
    /// get through within a second either, the connection is aborted. The client misses nothing silently.
    /// </summary>
    Close,

    /// <summary>
    /// Keep the client and drop its oldest queued messages; when it reads again it first gets an
    /// <c>{"type":"ipckit.skipped","count":N}</c> frame saying how many it missed, then the newest messages.
    /// </summary>
    Skip,
}
