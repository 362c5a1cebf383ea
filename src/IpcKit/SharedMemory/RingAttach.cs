using System.Diagnostics;

namespace IpcKit.SharedMemory;

/// <summary>
/// Attaching that waits for the ring to appear (<see cref="RingWriter.AttachAsync"/>, <see cref="RingReader.AttachAsync"/>),
/// as <c>PipeClient.ConnectAsync</c> waits for its server: a missing ring is retried until the deadline; anything else
/// (the role taken, a file that is not ours, corruption) fails at once.
/// </summary>
internal static class RingAttach
{
    private static readonly TimeSpan s_firstPoll = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan s_maxPoll = TimeSpan.FromMilliseconds(50);

    internal static async ValueTask<T> WaitAsync<T>(string name, RingEndpointOptions? options, TimeSpan? timeout, Func<string, RingEndpointOptions?, T> attach, CancellationToken cancellationToken)
    {
        IpcName.ValidateRing(name);
        (options ?? new RingEndpointOptions()).Validate();
        TimeSpan limit = timeout ?? options?.DefaultTimeout ?? new RingEndpointOptions().DefaultTimeout;
        if (limit < TimeSpan.Zero && limit != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be zero or more, or Timeout.InfiniteTimeSpan.");
        }

        long start = Stopwatch.GetTimestamp();
        TimeSpan poll = s_firstPoll;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IpcNotFoundException missing;
            try
            {
                return attach(name, options);
            }
            catch (IpcNotFoundException exception)
            {
                // Not created yet (or created between the check and the open, semaphores still missing): poll, backing off.
                missing = exception;
            }

            TimeSpan left = limit == Timeout.InfiniteTimeSpan ? poll : limit - Stopwatch.GetElapsedTime(start);
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Ring '{name}' did not appear within {limit}.", missing);
            }

            await Task.Delay(left < poll ? left : poll, cancellationToken).ConfigureAwait(false);
            poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, s_maxPoll.Ticks));
        }
    }
}
