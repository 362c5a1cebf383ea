using IpcKit.Pipes;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// The hosting package's log events, ids 4000-4999 (docs/architecture.md, Logging), category "IpcKit.Hosting".
// Source-generated: nothing is formatted or allocated when the level is off. Nothing is logged per message that went
// well: a message is logged only when its handler failed, its type is unknown (once per type) or it could not be read.
internal static partial class HostingLog
{
    internal const string Category = "IpcKit.Hosting";

    // Pipe servers, 4000-4009.
    [LoggerMessage(4000, LogLevel.Information, "Pipe server '{Channel}' listening on {Path}")]
    public static partial void PipeServerListening(ILogger logger, string channel, string path);

    [LoggerMessage(4001, LogLevel.Information, "Pipe server '{Channel}' stopping: no new connections or requests; waiting for {InFlight} in flight")]
    public static partial void PipeServerStopping(ILogger logger, string channel, int inFlight);

    [LoggerMessage(4002, LogLevel.Information, "Pipe server '{Channel}' stopped: {Handled} requests and messages handled, {Refused} refused while stopping")]
    public static partial void PipeServerStopped(ILogger logger, string channel, long handled, long refused);

    [LoggerMessage(4003, LogLevel.Warning, "Pipe server '{Channel}': the host's shutdown timeout passed with {InFlight} requests or messages still in their handlers; their connections are closed")]
    public static partial void PipeServerDrainTimedOut(ILogger logger, string channel, int inFlight);

    [LoggerMessage(4004, LogLevel.Error, "Pipe server '{Channel}': {Handler} failed on {MessageType} from {Connection}")]
    public static partial void PipeHandlerFailed(ILogger logger, Exception exception, string channel, string handler, string messageType, PipeConnection connection);

    // Pipe clients, 4010-4019.
    [LoggerMessage(4010, LogLevel.Information, "Pipe client '{Channel}' waiting for a server on {Path}")]
    public static partial void PipeClientWaiting(ILogger logger, string channel, string path);

    [LoggerMessage(4011, LogLevel.Information, "Pipe client '{Channel}' connected to {Path}")]
    public static partial void PipeClientConnected(ILogger logger, string channel, string path);

    [LoggerMessage(4012, LogLevel.Information, "Pipe client '{Channel}' reconnected: {Connection}")]
    public static partial void PipeClientReconnected(ILogger logger, string channel, PipeConnection connection);

    [LoggerMessage(4013, LogLevel.Warning, "Pipe client '{Channel}' lost its server ({Reason}); connecting again")]
    public static partial void PipeClientDisconnected(ILogger logger, string channel, string reason);

    [LoggerMessage(4014, LogLevel.Warning, "Pipe client '{Channel}' could not connect to {Path}; trying again in {Delay}")]
    public static partial void PipeClientConnectFailed(ILogger logger, Exception exception, string channel, string path, TimeSpan delay);

    // Rings, 4020-4039.
    [LoggerMessage(4020, LogLevel.Information, "Ring '{Channel}' created as {RingName} ({Capacity} bytes)")]
    public static partial void RingCreated(ILogger logger, string channel, string ringName, long capacity);

    [LoggerMessage(4021, LogLevel.Information, "Ring '{Channel}': {RingName} exists and is in use; attached to it as it is (it is not deleted at stop)")]
    public static partial void RingExisted(ILogger logger, string channel, string ringName);

    [LoggerMessage(4022, LogLevel.Information, "Ring '{Channel}' waiting for {RingName} to be created")]
    public static partial void RingWaiting(ILogger logger, string channel, string ringName);

    [LoggerMessage(4023, LogLevel.Information, "Ring consumer '{Channel}' attached to {RingName}")]
    public static partial void RingConsumerAttached(ILogger logger, string channel, string ringName);

    [LoggerMessage(4024, LogLevel.Information, "Ring consumer '{Channel}': its writer detached; waiting for the next")]
    public static partial void RingWriterDetached(ILogger logger, string channel);

    [LoggerMessage(4025, LogLevel.Warning, "Ring consumer '{Channel}': its writer died; waiting for the next")]
    public static partial void RingWriterDied(ILogger logger, string channel);

    [LoggerMessage(4026, LogLevel.Error, "Ring consumer '{Channel}': {Handler} failed on {MessageType}; the message is consumed, the next is handled")]
    public static partial void RingHandlerFailed(ILogger logger, Exception exception, string channel, string handler, string messageType);

    [LoggerMessage(4027, LogLevel.Warning, "Ring consumer '{Channel}': no handler for type {TypeId}; such messages are skipped (logged once per type)")]
    public static partial void RingUnknownType(ILogger logger, string channel, string typeId);

    [LoggerMessage(4028, LogLevel.Error, "Ring consumer '{Channel}': a {MessageType} could not be read; it is skipped")]
    public static partial void RingMessageInvalid(ILogger logger, Exception exception, string channel, string messageType);

    [LoggerMessage(4029, LogLevel.Information, "Ring consumer '{Channel}' stopped: {Handled} messages handled ({Drained} drained at stop), {Skipped} skipped")]
    public static partial void RingConsumerStopped(ILogger logger, string channel, long handled, long drained, long skipped);

    [LoggerMessage(4030, LogLevel.Warning, "Ring '{Channel}': {RingName} still holds {Bytes} bytes not consumed; it is kept for the next reader")]
    public static partial void RingLeftUnconsumed(ILogger logger, string channel, string ringName, long bytes);

    [LoggerMessage(4031, LogLevel.Information, "Ring '{Channel}': deleted {RingName}")]
    public static partial void RingDeleted(ILogger logger, string channel, string ringName);

    [LoggerMessage(4032, LogLevel.Information, "Ring producer '{Channel}' attached to {RingName}")]
    public static partial void RingProducerAttached(ILogger logger, string channel, string ringName);

    [LoggerMessage(4033, LogLevel.Critical, "Ring consumer '{Channel}' stopped receiving: the ring cannot be read any more")]
    public static partial void RingConsumerFailed(ILogger logger, Exception exception, string channel);

    [LoggerMessage(4034, LogLevel.Warning, "Ring consumer '{Channel}': the host's shutdown timeout passed while draining; the rest stays in the ring")]
    public static partial void RingDrainTimedOut(ILogger logger, string channel);

    // Paired processes, 4040-4059.
    [LoggerMessage(4040, LogLevel.Information, "Paired with parent process {ParentProcessId}; channels from the parent: {Channels}")]
    public static partial void PairedChildAttached(ILogger logger, int parentProcessId, string channels);

    [LoggerMessage(4041, LogLevel.Information, "The parent process asked this host to stop")]
    public static partial void ParentRequestedStop(ILogger logger);

    [LoggerMessage(4042, LogLevel.Warning, "The parent process {ParentProcessId} is gone; stopping this host")]
    public static partial void ParentDied(ILogger logger, int parentProcessId);

    [LoggerMessage(4043, LogLevel.Information, "Signalled ready to the parent process")]
    public static partial void SignalledReady(ILogger logger);

    [LoggerMessage(4050, LogLevel.Information, "Paired process '{Name}' started (pid {ProcessId}) and ready")]
    public static partial void PairedProcessStarted(ILogger logger, string name, int processId);

    [LoggerMessage(4051, LogLevel.Error, "Paired process '{Name}' (pid {ProcessId}) exited with {ExitCode} while the host ran; stopping the host. Its stderr ends with: {StandardError}")]
    public static partial void PairedProcessExited(ILogger logger, string name, int processId, int exitCode, string standardError);

    [LoggerMessage(4052, LogLevel.Information, "Paired process '{Name}' (pid {ProcessId}) stopped with exit code {ExitCode}")]
    public static partial void PairedProcessStopped(ILogger logger, string name, int processId, int exitCode);
}
