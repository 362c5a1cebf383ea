namespace IpcKit.Pipes;

/// <summary>
/// The one deadline of an operation that may wait in several places (for a reconnection, a request slot, room to
/// send, the answer): the timeout the caller passed (or the channel's <see cref="PipeChannelOptions.DefaultTimeout"/>)
/// turned into a point in <see cref="Environment.TickCount64"/> milliseconds, so every wait takes what is left of it.
/// </summary>
internal readonly struct PipeDeadline
{
    private readonly long _at;

    private PipeDeadline(long at, TimeSpan timeout)
    {
        _at = at;
        Timeout = timeout;
    }

    /// <summary>The timeout it was made from, for messages.</summary>
    internal TimeSpan Timeout { get; }

    /// <summary>Whether it never passes.</summary>
    internal bool IsInfinite => _at == long.MaxValue;

    /// <summary>The deadline in <see cref="Environment.TickCount64"/> milliseconds (long.MaxValue for never).</summary>
    internal long At => _at;

    /// <summary>A deadline <paramref name="timeout"/> from now, or <paramref name="defaultTimeout"/> when it is null.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The timeout is negative (other than infinite) or zero.</exception>
    internal static PipeDeadline From(TimeSpan? timeout, TimeSpan defaultTimeout, string paramName = "timeout")
    {
        TimeSpan value = timeout ?? defaultTimeout;
        if (value == System.Threading.Timeout.InfiniteTimeSpan)
        {
            return new PipeDeadline(long.MaxValue, value);
        }

        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(paramName, value, "A timeout must be positive (at most int.MaxValue milliseconds) or Timeout.InfiniteTimeSpan.");
        }

        return new PipeDeadline(Environment.TickCount64 + (long)Math.Ceiling(value.TotalMilliseconds), value);
    }

    /// <summary>Milliseconds left, at least 0; <see cref="System.Threading.Timeout.Infinite"/> for an infinite deadline.</summary>
    internal int RemainingMilliseconds
    {
        get
        {
            if (IsInfinite)
            {
                return System.Threading.Timeout.Infinite;
            }

            return (int)Math.Clamp(_at - Environment.TickCount64, 0, int.MaxValue);
        }
    }

    /// <summary>What is left (at least 1 ms), as a timeout for another call; infinite stays infinite.</summary>
    internal TimeSpan Remaining => IsInfinite ? System.Threading.Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(1, RemainingMilliseconds));

    /// <summary>The earlier of this deadline and <paramref name="timeout"/> from now (a handshake within a connect, say).</summary>
    internal PipeDeadline Within(TimeSpan timeout)
    {
        PipeDeadline other = From(timeout, timeout);
        return other._at < _at ? other : this;
    }

    /// <summary>Whether it has passed.</summary>
    internal bool HasPassed => !IsInfinite && Environment.TickCount64 >= _at;

    /// <summary>"2000 ms", as messages print the timeout.</summary>
    public override string ToString() => IsInfinite ? "no limit" : $"{Timeout.TotalMilliseconds} ms";

    /// <summary>
    /// Waits for <paramref name="task"/> within what is left, honouring <paramref name="cancellationToken"/>; a timeout
    /// is a <see cref="TimeoutException"/> saying <paramref name="waitingFor"/>.
    /// </summary>
    internal async ValueTask WaitAsync(Task task, string waitingFor, CancellationToken cancellationToken)
    {
        try
        {
            if (IsInfinite)
            {
                await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (HasPassed && !task.IsCompleted)
            {
                throw Expired(waitingFor);
            }
            else
            {
                await task.WaitAsync(Remaining, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (TimeoutException exception)
        {
            throw Expired(waitingFor, exception);
        }
    }

    /// <summary>The exception for a deadline that passed while waiting for <paramref name="waitingFor"/>.</summary>
    internal TimeoutException Expired(string waitingFor, Exception? inner = null) =>
        new($"Timed out after {this} waiting for {waitingFor}.", inner);
}
