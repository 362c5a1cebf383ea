namespace IpcKit.Pipes;

/// <summary>What a frame carries; the byte at offset 4 of the frame header (docs/pipe-protocol.md).</summary>
internal enum FrameKind : byte
{
    /// <summary>The first frame each side sends: magic, protocol version, largest body it accepts, process id.</summary>
    Hello = 0,

    /// <summary>A one-way message; correlation id 0.</summary>
    Message = 1,

    /// <summary>A request; the sender picks a non-zero correlation id the answer will carry.</summary>
    Request = 2,

    /// <summary>The answer to the request with the same correlation id.</summary>
    Response = 3,

    /// <summary>A failed request (correlation id of the request) or, with correlation id 0, why the sender closes.</summary>
    Error = 4,

    /// <summary>A heartbeat; the peer answers with a pong carrying the same 8 bytes.</summary>
    Ping = 5,

    /// <summary>The answer to a ping.</summary>
    Pong = 6,

    /// <summary>The sender closes in an orderly way and sends nothing after this frame.</summary>
    Close = 7,

    /// <summary>Flow control: the sender consumed this many bytes of the peer's one-way messages (u32 body), so the peer may send that much more.</summary>
    Credit = 8,
}
