namespace IpcKit.SharedMemory;

/// <summary>Who holds a role on a ring, as its identity line records it.</summary>
/// <param name="State">Whether a process attached, and whether it detached.</param>
/// <param name="ProcessId">The process id of the last process to attach (0 if none ever did).</param>
/// <param name="StartTime">That process's start time (an opaque number that, with the pid, survives pid reuse).</param>
/// <param name="HeartbeatUnixMilliseconds">When that process last wrote its heartbeat (Unix time in milliseconds).</param>
/// <param name="Generation">How many times a process attached in this role.</param>
public readonly record struct RingPeerInfo(RingPeerState State, int ProcessId, long StartTime, long HeartbeatUnixMilliseconds, int Generation);
