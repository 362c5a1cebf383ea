namespace IpcKit.Nats;

/// <summary>How a ring route crosses NATS, and so what it guarantees (docs/bridge.md, "Delivery guarantees").</summary>
public enum BridgeMode
{
    /// <summary>Core NATS publish/subscribe: at most once. A message is lost if a bridge or the server dies, or a slow subscriber overflows; never duplicated.</summary>
    Core,

    /// <summary>A JetStream stream: exactly once into the destination ring across crashes of either bridge (at-least-once delivery, de-duplicated by ring position and stream sequence).</summary>
    JetStream,
}
