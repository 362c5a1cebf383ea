using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace IpcKit.Nats;

/// <summary>Finding or creating the stream a JetStream route uses.</summary>
internal static class JetStreamSetup
{
    private const int NotFound = 404;
    private const int StreamNameInUse = 10058;

    /// <summary>
    /// The stream named <paramref name="stream"/>; created if missing, holding <paramref name="subject"/> only, in file
    /// storage, with a two-minute duplicate window (the longest a crashed publishing bridge may take to come back and
    /// still have its re-published messages dropped as copies).
    /// </summary>
    internal static async Task<INatsJSStream> EnsureStreamAsync(NatsJSContext js, string stream, string subject, CancellationToken cancellationToken)
    {
        try
        {
            return await js.GetStreamAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (exception.Error.Code == NotFound)
        {
        }

        try
        {
            var config = new StreamConfig(stream, [subject])
            {
                Storage = StreamConfigStorage.File,
                DuplicateWindow = TimeSpan.FromMinutes(2),
            };
            return await js.CreateStreamAsync(config, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException exception) when (exception.Error.ErrCode == StreamNameInUse)
        {
            // Another bridge created it meanwhile.
            return await js.GetStreamAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    internal static bool IsNotFound(NatsJSApiException exception) => exception.Error.Code == NotFound;
}
