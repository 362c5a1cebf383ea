using System.Net.Sockets;

namespace IpcKit.Pipes;

/// <summary>One accepted or connected byte stream, with what the OS says about the process at the other end.</summary>
internal sealed class PipeTransport : IDisposable
{
    private readonly Socket? _socket;

    internal PipeTransport(Stream stream, Socket? socket, int? peerProcessId, uint? peerUserId)
    {
        Stream = stream;
        _socket = socket;
        PeerProcessId = peerProcessId;
        PeerUserId = peerUserId;
    }

    internal Stream Stream { get; }

    /// <summary>The peer's process id from the kernel (SO_PEERCRED on Linux), or null where the OS does not say.</summary>
    internal int? PeerProcessId { get; }

    /// <summary>The peer's effective user id from the kernel, or null where the OS does not say.</summary>
    internal uint? PeerUserId { get; }

    /// <summary>
    /// Whether bytes from the peer wait unread in the kernel. The liveness check asks before declaring a silent peer gone,
    /// so a process of ours that was too busy to read is not mistaken for a peer that stopped writing.
    /// </summary>
    internal bool HasUnreadInput
    {
        get
        {
            try
            {
                return _socket is { } socket && socket.Available > 0;
            }
            catch (Exception exception) when (exception is ObjectDisposedException or SocketException)
            {
                return false;
            }
        }
    }

    public void Dispose()
    {
        Stream.Dispose();
        _socket?.Dispose();
    }
}
