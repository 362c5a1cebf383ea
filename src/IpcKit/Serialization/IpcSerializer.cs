using System.Buffers;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace IpcKit.Serialization;

/// <summary>
/// The MessagePack settings IpcKit uses for every contract that crosses a process boundary, and the one place
/// contracts are written and read, so a mistake (a type that is not a contract) reads the same on every transport.
/// </summary>
/// <remarks>
/// Bytes from another process are untrusted: the options always carry <see cref="MessagePackSecurity.UntrustedData"/>
/// (bounded depth, hash-collision-resistant dictionaries), whatever formatters are added, and typeless
/// serialization is never used. Your own formatters and resolvers (<see cref="AddFormatters"/>,
/// <see cref="AddResolvers"/>) are consulted before the standard resolver; a formatter of yours should honour
/// <c>options.Security.DepthStep</c> for nested values, as MessagePack's own do.
/// </remarks>
public static class IpcSerializer
{
    private static readonly Lock s_gate = new();
    private static readonly List<IMessagePackFormatter> s_formatters = [];
    private static readonly List<IFormatterResolver> s_resolvers = [];
    private static MessagePackSerializerOptions s_options = Build();

    /// <summary>
    /// The standard resolver (with the formatters and resolvers added here first) and
    /// <see cref="MessagePackSecurity.UntrustedData"/>. Use it for any MessagePack you read or write for IpcKit.
    /// </summary>
    public static MessagePackSerializerOptions Options => Volatile.Read(ref s_options);

    /// <summary>
    /// Adds formatters for types the standard resolver does not handle (a type from a library you cannot annotate).
    /// Call it at start-up, before the first message of those types; later calls apply from then on.
    /// </summary>
    public static void AddFormatters(params IMessagePackFormatter[] formatters)
    {
        ArgumentNullException.ThrowIfNull(formatters);
        Add(() => s_formatters.AddRange(formatters.Select(formatter => formatter ?? throw new ArgumentException("A formatter is null.", nameof(formatters)))));
    }

    /// <summary>Adds resolvers, consulted in order before the standard resolver. Call it at start-up, as <see cref="AddFormatters"/>.</summary>
    public static void AddResolvers(params IFormatterResolver[] resolvers)
    {
        ArgumentNullException.ThrowIfNull(resolvers);
        Add(() => s_resolvers.AddRange(resolvers.Select(resolver => resolver ?? throw new ArgumentException("A resolver is null.", nameof(resolvers)))));
    }

    /// <summary>Serializes a contract of the caller's; a type that is not one fails with a message that says so.</summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> (or a member's type) has no formatter: not a [MessagePackObject] contract; or its formatter failed.</exception>
    internal static void Serialize<T>(IBufferWriter<byte> writer, T value)
    {
        try
        {
            MessagePackSerializer.Serialize(writer, value, Options);
        }
        catch (MessagePackSerializationException exception) when (Explain<T>(exception, "sent") is ArgumentException explained)
        {
            throw explained;
        }
    }

    /// <summary>
    /// Deserializes bytes from another process. A type the caller asked for that is not a contract is the caller's
    /// mistake (<see cref="ArgumentException"/>); bytes that are not a valid <typeparamref name="T"/> stay
    /// <see cref="MessagePackSerializationException"/> for the transport to report as the peer's.
    /// </summary>
    internal static T Deserialize<T>(ReadOnlyMemory<byte> body)
    {
        try
        {
            return MessagePackSerializer.Deserialize<T>(body, Options);
        }
        catch (MessagePackSerializationException exception) when (NotAContract<T>(exception) is ArgumentException explained)
        {
            throw explained;
        }
    }

    /// <inheritdoc cref="Deserialize{T}(ReadOnlyMemory{byte})"/>
    internal static T Deserialize<T>(in ReadOnlySequence<byte> body)
    {
        try
        {
            return MessagePackSerializer.Deserialize<T>(body, Options);
        }
        catch (MessagePackSerializationException exception) when (NotAContract<T>(exception) is ArgumentException explained)
        {
            throw explained;
        }
    }

    /// <summary>The message for "received type A, asked for B", both named as <see cref="MessageTypeId.Describe"/> prints them.</summary>
    internal static string Mismatch<T>(int typeId) =>
        $"the message is a {MessageTypeId.Describe(typeId)}, not a {MessageTypeId.Describe(MessageTypeId.Of<T>())}";

    /// <summary>A serialization failure rewritten with its reason in the message; null for failures the caller handles itself (an inner exception of IpcKit's own).</summary>
    private static ArgumentException? Explain<T>(MessagePackSerializationException exception, string verb)
    {
        if (NotAContract<T>(exception) is ArgumentException notAContract)
        {
            return notAContract;
        }

        // The ring serializes in place and learns of a full region through its own exception, wrapped by MessagePack.
        if (exception.InnerException is null || exception.InnerException.GetType().Assembly == typeof(IpcSerializer).Assembly)
        {
            return null;
        }

        return new ArgumentException(
            $"A {typeof(T).FullName} could not be {verb}: {exception.InnerException.Message}", exception.InnerException);
    }

    /// <summary>"T is not a contract", when MessagePack found no formatter for T or for one of its members' types.</summary>
    private static ArgumentException? NotAContract<T>(MessagePackSerializationException exception)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is FormatterNotRegisteredException missing)
            {
                Type type = typeof(T);
                string what = !HasFormatter<T>()
                    ? $"{type.FullName} is not a MessagePack contract: mark it [MessagePackObject] and each member to send [Key(0)], [Key(1)], ... (README, \"Your own messages\")"
                    : $"a member of {type.FullName} has a type that is not a MessagePack contract: mark that type [MessagePackObject] too";
                return new ArgumentException(
                    $"{what}, or add a formatter for it with IpcSerializer.AddFormatters. MessagePack: {missing.Message}", exception);
            }
        }

        return null;
    }

    private static bool HasFormatter<T>()
    {
        try
        {
            return Options.Resolver.GetFormatter<T>() is not null;
        }
        catch (Exception exception) when (exception is TypeInitializationException or MessagePackSerializationException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void Add(Action change)
    {
        lock (s_gate)
        {
            change();
            Volatile.Write(ref s_options, Build());
        }
    }

    private static MessagePackSerializerOptions Build()
    {
        IFormatterResolver resolver = s_formatters.Count == 0 && s_resolvers.Count == 0
            ? StandardResolver.Instance
            : CompositeResolver.Create(s_formatters, [.. s_resolvers, StandardResolver.Instance]);
        return MessagePackSerializerOptions.Standard.WithResolver(resolver).WithSecurity(MessagePackSecurity.UntrustedData);
    }
}
