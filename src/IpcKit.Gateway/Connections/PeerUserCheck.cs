using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace IpcKit.Gateway.Connections;

// The Unix-socket listener is for local clients that are not browsers (curl --unix-socket, scripts). Only processes of
// this user may use it. The socket sits in the per-user folder (0700), so file modes keep other users out already;
// the kernel's record of who connected (SO_PEERCRED: pid, uid, gid, fixed at connect) is checked as well, so a
// wider mode on the socket or the folder, or a socket put elsewhere, does not let another user in. Root's processes
// are refused too unless the gateway runs as root: root can read the token file anyway, but has no business here.
// Other users never reach the TCP listener's connection cap through this door, and token holders who use it are
// immune to whatever happens on TCP.
[SupportedOSPlatform("linux")]
internal sealed class PeerUserCheck
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private readonly uint _me = Interop.Files.GetEffectiveUserId();
    private readonly ILogger _logger;

    public PeerUserCheck(ILogger logger)
    {
        _logger = logger;
    }

    /// <summary>Kestrel connection middleware: runs the connection only if its peer is a process of this user.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        Socket? socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        Span<byte> credentials = stackalloc byte[12];
        if (socket is null || socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials) < 12)
        {
            // Without the kernel's word on who connected, nobody is let in.
            GatewayLog.PeerUserRejected(_logger, uint.MaxValue, -1, _me);
            return;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        int pid = BinaryPrimitives.ReadInt32LittleEndian(credentials);
        uint uid = BinaryPrimitives.ReadUInt32LittleEndian(credentials[4..]);
        if (uid != _me)
        {
            GatewayLog.PeerUserRejected(_logger, uid, pid, _me);
            return;
        }

        await next(connection).ConfigureAwait(false);
    }
}
