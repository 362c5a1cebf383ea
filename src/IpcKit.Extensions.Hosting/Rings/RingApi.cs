using IpcKit.SharedMemory;
using Microsoft.Extensions.Logging;

namespace IpcKit.Extensions.Hosting;

// The one place this package calls the ring's API: options mapped from their hosted form, create, attach (waiting for
// the ring to appear), receive in place, send, inspect. When the ring's API moves, this file moves with it.
internal static class RingApi
{
    private static readonly TimeSpan s_firstPause = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_longestPause = TimeSpan.FromSeconds(1);

    internal static RingEndpointOptions EndpointOptions(HostedRingOptions options, ILoggerFactory? loggerFactory)
    {
        return new RingEndpointOptions { PeerTimeout = options.PeerTimeout, LoggerFactory = loggerFactory };
    }

    /// <summary>Checks a ring name and the settings the way the ring does; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    internal static void Validate(string ringName, HostedRingOptions options)
    {
        _ = IpcName.GetRingPath(ringName);
        long capacity = options.Capacity;
        if (capacity < 4096 || capacity > 1L << 30 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentException($"Capacity ({capacity}) must be a power of two from 4096 (4 KiB) to 1073741824 (1 GiB).", nameof(options));
        }

        if (options.MaxMessageSize is int max && (max < 1 || max > capacity / 2))
        {
            throw new ArgumentException($"MaxMessageSize ({max}) must be from 1 to half the capacity ({capacity / 2}).", nameof(options));
        }

        Durations.Positive(options.PeerTimeout, nameof(options.PeerTimeout));
        Durations.PositiveOrInfinite(options.DefaultTimeout, nameof(options.DefaultTimeout));
    }

    /// <summary>Creates the ring (reclaiming one whose processes all died); false when a ring in use is there already.</summary>
    internal static bool Create(string ringName, HostedRingOptions options)
    {
        try
        {
            RingBuffer.Create(ringName, new RingOptions { Capacity = options.Capacity, MaxMessageSize = options.MaxMessageSize, ReclaimAbandoned = true });
            return true;
        }
        catch (IpcAlreadyExistsException)
        {
            return false;
        }
    }

    internal static bool Delete(string ringName) => RingBuffer.Delete(ringName);

    /// <summary>Bytes committed and not yet consumed, or null when there is no ring to look at.</summary>
    internal static long? UnconsumedBytes(string ringName)
    {
        try
        {
            return RingBuffer.Inspect(ringName).UsedBytes;
        }
        catch (IpcNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Whether the peer of the given side (the writer for a consumer) is attached and alive, and its pid.</summary>
    internal static (bool Alive, int ProcessId) Peer(string ringName, bool writer)
    {
        RingInfo info = RingBuffer.Inspect(ringName);
        return writer
            ? (info.WriterAlive && info.Writer.State == RingPeerState.Attached, info.Writer.ProcessId)
            : (info.ReaderAlive && info.Reader.State == RingPeerState.Attached, info.Reader.ProcessId);
    }

    internal static RingReader AttachReader(string ringName, RingEndpointOptions options) => RingReader.Attach(ringName, options);

    internal static RingWriter AttachWriter(string ringName, RingEndpointOptions options) => RingWriter.Attach(ringName, options);

    internal static ValueTask<RingReader> AttachReaderAsync(string ringName, RingEndpointOptions options, Action onWaiting, CancellationToken cancellationToken) =>
        AttachAsync(() => RingReader.Attach(ringName, options), ringName, onWaiting, cancellationToken);

    internal static ValueTask<RingWriter> AttachWriterAsync(string ringName, RingEndpointOptions options, Action onWaiting, CancellationToken cancellationToken) =>
        AttachAsync(() => RingWriter.Attach(ringName, options), ringName, onWaiting, cancellationToken);

    /// <summary>Waits for a message; <see cref="IpcPeerGoneException"/> once when the writer left and the ring is empty.</summary>
    internal static ValueTask<bool> WaitForDataAsync(RingReader reader, CancellationToken cancellationToken) =>
        reader.WaitForDataAsync(Timeout.InfiniteTimeSpan, cancellationToken);

    internal static bool HasData(RingReader reader) => reader.HasData();

    /// <summary>Hands the next message, in place, to <paramref name="take"/> and consumes it; false when none is ready.</summary>
    internal static bool TryTake<TState>(RingReader reader, TState state, RingMessageHandler<TState> take) =>
        reader.Drain(state, take, maxMessages: 1) == 1;

    /// <summary>Sends a message; <see cref="TimeoutException"/> when the ring had no room within <paramref name="timeout"/>.</summary>
    internal static ValueTask SendAsync<T>(RingWriter writer, T message, TimeSpan timeout, CancellationToken cancellationToken) =>
        writer.SendAsync(message, timeout, cancellationToken);

    /// <summary>Sends a body as it is; <see cref="TimeoutException"/> when the ring had no room within <paramref name="timeout"/>.</summary>
    internal static ValueTask SendRawAsync(RingWriter writer, ReadOnlyMemory<byte> body, int typeId, TimeSpan timeout, CancellationToken cancellationToken) =>
        writer.SendRawAsync(body, typeId, timeout, cancellationToken);

    /// <summary>Attaches once the ring exists, retrying with a growing pause (at most 1 s) until cancelled.</summary>
    private static async ValueTask<T> AttachAsync<T>(Func<T> attach, string ringName, Action onWaiting, CancellationToken cancellationToken)
    {
        TimeSpan pause = s_firstPause;
        bool reported = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (RingBuffer.Exists(ringName))
            {
                try
                {
                    return attach();
                }
                catch (IpcNotFoundException)
                {
                    // Deleted between the look and the open: wait for the next one.
                }
            }

            if (!reported)
            {
                reported = true;
                onWaiting();
            }

            await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, s_longestPause.Ticks));
        }
    }
}
