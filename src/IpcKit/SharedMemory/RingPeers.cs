using System.Diagnostics;

namespace IpcKit.SharedMemory;

// Whether the other side of a ring has gone, for an endpoint that waits on it. The other side is one identity line
// (a one-to-one writer watches the reader, its reader the writer; a many-to-one producer the reader; a broadcast
// subscriber the writer) or all the slots (a many-to-one reader watches its producers: they are gone when none is alive
// and at least one left since the last report).
//
// The same rule for every role: a peer that left before this endpoint attached is not reported (the endpoint waits for
// the next one; PreviousDied tells whether the last one died); a peer that leaves while this endpoint is attached is
// reported once (Closed if it detached, Died if its lock is free while it claims to be attached), and later waits wait
// for a new one. The lock probe is a system call: made at most once per check interval.

/// <summary>The peer side of a ring role: whether it left, and the report when it did.</summary>
internal sealed class RingPeers
{
    private readonly RingMapping _mapping;
    private readonly int[] _lines;
    private readonly int[] _settled;
    private readonly string _peerName;
    private readonly long _checkTicks;
    private long _nextProbe;

    private RingPeers(RingMapping mapping, int[] lines, string peerName, TimeSpan checkInterval)
    {
        _mapping = mapping;
        _lines = lines;
        _peerName = peerName;
        _settled = new int[lines.Length];
        _checkTicks = Math.Max(1, (long)(checkInterval.TotalSeconds * Stopwatch.Frequency));
        for (int i = 0; i < lines.Length; i++)
        {
            RingPeerInfo peer = RingIdentity.Read(mapping, lines[i]);
            bool alive = peer.State == RingPeerState.Attached && RingIdentity.IsHeld(mapping, lines[i]);
            PreviousDied |= peer.State == RingPeerState.Attached && !alive;
            _settled[i] = alive ? -1 : peer.Generation;
        }
    }

    /// <summary>Whether the peer that had left before this endpoint attached died without detaching (for many producers: any of them).</summary>
    internal bool PreviousDied { get; }

    /// <summary>A watch of nobody (a broadcast writer drops its subscribers instead of waiting for them).</summary>
    internal static RingPeers? None => null;

    /// <summary>A watch of one identity line.</summary>
    internal static RingPeers Line(RingMapping mapping, int line, string peerName, TimeSpan checkInterval) =>
        new(mapping, [line], peerName, checkInterval);

    /// <summary>A watch of all the slots (the producers of a many-to-one ring).</summary>
    internal static RingPeers Slots(RingMapping mapping, string peerName, TimeSpan checkInterval) =>
        new(mapping, RingIdentity.SlotLines(mapping.Descriptor.Slots), peerName, checkInterval);

    /// <summary>Null while the peer is attached and alive, never came, or its departure was already reported; otherwise why it is gone.</summary>
    internal IpcCloseReason? Check()
    {
        bool departed = false;
        bool died = false;
        bool probe = false;
        for (int i = 0; i < _lines.Length; i++)
        {
            RingPeerInfo peer = RingIdentity.Read(_mapping, _lines[i]);
            if (peer.State == RingPeerState.Attached)
            {
                probe = true;
            }
            else if (peer.State is RingPeerState.Detached or RingPeerState.Dropped && peer.Generation != _settled[i])
            {
                departed = true;
            }
        }

        if (probe)
        {
            long now = Stopwatch.GetTimestamp();
            if (now < _nextProbe)
            {
                return null;
            }

            _nextProbe = now + _checkTicks;
            for (int i = 0; i < _lines.Length; i++)
            {
                RingPeerInfo peer = RingIdentity.Read(_mapping, _lines[i]);
                if (peer.State != RingPeerState.Attached)
                {
                    continue;
                }

                if (RingIdentity.IsHeld(_mapping, _lines[i]))
                {
                    // Someone is there: the side has not gone.
                    return null;
                }

                if (peer.Generation != _settled[i])
                {
                    departed = true;
                    died = true;
                }
            }
        }

        return departed ? (died ? IpcCloseReason.PeerDied : IpcCloseReason.PeerClosed) : null;
    }

    /// <summary>The exception for a departed peer; the departure counts as reported from now on.</summary>
    internal IpcPeerGoneException Report(IpcCloseReason reason)
    {
        RingPeerInfo last = default;
        for (int i = 0; i < _lines.Length; i++)
        {
            RingPeerInfo peer = RingIdentity.Read(_mapping, _lines[i]);
            if (peer.Generation != _settled[i] && peer.State != RingPeerState.None)
            {
                last = peer;
            }

            _settled[i] = peer.Generation;
        }

        string message = reason == IpcCloseReason.PeerClosed
            ? $"The {_peerName} of ring '{_mapping.Name}' detached."
            : $"The {_peerName} of ring '{_mapping.Name}' died without detaching (process {last.ProcessId}).";
        return new IpcPeerGoneException(message, reason);
    }
}
