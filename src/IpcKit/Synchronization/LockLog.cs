using Microsoft.Extensions.Logging;

namespace IpcKit.Synchronization;

/// <summary>What named locks log (event ids 3000-3999, see docs/architecture.md "Logging"). Nothing per acquire.</summary>
internal static partial class LockLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning,
        Message = "Lock '{Name}' lease {Lease}: its previous holder, process {ProcessId}, died holding it; this owner is told (LockLease.Abandoned) so it can repair what the lock guarded.")]
    internal static partial void AbandonedLeaseTaken(ILogger logger, string name, int lease, int processId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Lock '{Name}': refused the lock file {Path}: {Reason}")]
    internal static partial void OwnerCheckRefused(ILogger logger, string name, string path, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "Lock '{Name}': the lock file {Path} was left unfinished by a creator that died; it was initialized again.")]
    internal static partial void Reinitialized(ILogger logger, string name, string path);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug,
        Message = "Lock '{Name}': kept {Path} after its last user closed it: lease {Lease} carries the mark of process {ProcessId}, which died holding it, for the lease's next owner.")]
    internal static partial void KeptForAbandonedMark(ILogger logger, string name, string path, int lease, int processId);
}
