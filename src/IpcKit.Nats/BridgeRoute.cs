namespace IpcKit.Nats;

/// <summary>One connection between an IpcKit channel and a NATS subject; an <see cref="IpcNatsBridge"/> runs several.</summary>
public abstract class BridgeRoute
{
    private protected BridgeRoute()
    {
    }

    /// <summary>The NATS subject (no wildcards for routes that publish or serve).</summary>
    public required string Subject { get; init; }

    /// <summary>Checks the route's settings; throws <see cref="ArgumentException"/> naming the setting and the bad value.</summary>
    public virtual void Validate()
    {
        ValidateSubject(Subject, nameof(Subject), wildcards: false);
    }

    internal static void ValidateSubject(string? subject, string setting, bool wildcards)
    {
        if (string.IsNullOrEmpty(subject))
        {
            throw new ArgumentException($"{setting} is empty; a NATS subject such as 'orders.placed' is needed.", setting);
        }

        foreach (char c in subject)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || (!wildcards && c is '*' or '>'))
            {
                throw new ArgumentException(
                    $"{setting} '{subject}' is not a NATS subject for this route: tokens separated by '.', without spaces{(wildcards ? "" : " or wildcards ('*', '>')")}.", setting);
            }
        }

        if (subject.StartsWith('.') || subject.EndsWith('.') || subject.Contains("..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{setting} '{subject}' has an empty token (a leading, trailing or doubled '.').", setting);
        }
    }

    /// <summary>JetStream stream and consumer names: letters, digits, '-' and '_' (no '.', '*', '>' or spaces).</summary>
    internal static void ValidateJetStreamName(string? name, string setting)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 200 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"{setting} '{name}' is not a JetStream name: 1 to 200 of A-Z a-z 0-9 - _.", setting);
        }
    }

    internal static void ValidatePositive(TimeSpan value, string setting, bool allowInfinite)
    {
        if (value <= TimeSpan.Zero && !(allowInfinite && value == Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(setting, value, $"{setting} must be positive{(allowInfinite ? " or Timeout.InfiniteTimeSpan" : "")}, not {value}.");
        }
    }

    internal static void ValidateRing(string? ring, string setting)
    {
        try
        {
            IpcName.ValidateRing(ring!);
        }
        catch (ArgumentException exception)
        {
            throw new ArgumentException($"{setting}: {exception.Message}", setting, exception);
        }
    }
}
