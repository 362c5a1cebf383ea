using Microsoft.Extensions.Logging;

namespace IpcKit.SharedMemory;

/// <summary>
/// What the ring logs (event ids 2000-2999): endpoints attaching and detaching, peers that left or died, corruption,
/// holes skipped, subscribers dropped or overtaken. Nothing per message.
/// </summary>
internal static partial class RingLog
{
    [LoggerMessage(2000, LogLevel.Information, "Ring '{Ring}': attached as {Role} (process {ProcessId}, {Kind} ring of {Capacity} bytes).")]
    internal static partial void Attached(ILogger logger, string ring, string role, int processId, string kind, long capacity);

    [LoggerMessage(2001, LogLevel.Information, "Ring '{Ring}': {Role} detached.")]
    internal static partial void Detached(ILogger logger, string ring, string role);

    [LoggerMessage(2002, LogLevel.Warning, "Ring '{Ring}': {Message}")]
    internal static partial void PeerDied(ILogger logger, string ring, string message);

    [LoggerMessage(2003, LogLevel.Information, "Ring '{Ring}': {Message}")]
    internal static partial void PeerDetached(ILogger logger, string ring, string message);

    [LoggerMessage(2004, LogLevel.Error, "Ring '{Ring}': corruption at position {Position}: {Message}")]
    internal static partial void Corruption(ILogger logger, string ring, long position, string message);

    [LoggerMessage(2005, LogLevel.Warning, "Ring '{Ring}': skipped the claim of {Bytes} bytes at position {Position} of producer slot {Slot}, which died before committing it ({Total} holes so far).")]
    internal static partial void HoleSkipped(ILogger logger, string ring, long bytes, long position, int slot, long total);

    [LoggerMessage(2006, LogLevel.Warning, "Ring '{Ring}': dropped subscriber slot {Slot} (process {ProcessId}): {Reason}.")]
    internal static partial void SubscriberDropped(ILogger logger, string ring, int slot, int processId, string reason);

    [LoggerMessage(2007, LogLevel.Warning, "Ring '{Ring}': the writer overtook this subscriber at position {Position}; {Lost} messages lost, resumed at {ResumedAt} ({Total} lost so far).")]
    internal static partial void Lapped(ILogger logger, string ring, long position, long lost, long resumedAt, long total);

    [LoggerMessage(2008, LogLevel.Warning, "Ring '{Ring}': this subscriber was dropped by the writer at position {Position}.")]
    internal static partial void Dropped(ILogger logger, string ring, long position);
}
