using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using IpcKit.Pipes;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Gateway.Json;

/// <summary>
/// One registered contract type: its JSON name, its message type id, and the typed calls (MessagePack, pipe send and
/// request) the gateway makes for it without knowing the type at compile time.
/// </summary>
internal abstract class ContractBinding
{
    private protected ContractBinding(Type type, string name)
    {
        Type = type;
        Name = name;
        FullName = type.FullName ?? type.Name;
        TypeId = MessageTypeId.Of(type);
        Members = UnionMembers(type);

        // Validation attributes (System.ComponentModel.DataAnnotations) on the contract (on a union, on its members) are
        // checked before a message enters a channel; most contracts have none, and then the check is skipped entirely.
        HasValidation = Members.Count > 0 ? Members.Any(member => HasValidationAttributes(member.Type)) : HasValidationAttributes(type);
    }

    /// <summary>
    /// For a MessagePack union (an interface or abstract class with <c>[Union]</c> attributes), its members; else empty.
    /// On the wire a union message has the union's type id and the member's union key; in JSON its "type" names the
    /// member (by its short name), so a client never deals with union keys.
    /// </summary>
    public IReadOnlyList<UnionMember> Members { get; }

    /// <summary>Whether this is a union (see <see cref="Members"/>).</summary>
    public bool IsUnion => Members.Count > 0;

    /// <summary>The CLR type.</summary>
    public Type Type { get; }

    /// <summary>The short name a JSON message's "type" field uses (and the gateway writes).</summary>
    public string Name { get; }

    /// <summary>The CLR full name, also accepted in "type", and hashed into <see cref="TypeId"/>.</summary>
    public string FullName { get; }

    /// <summary>The message type id on the ring and the pipe.</summary>
    public int TypeId { get; }

    /// <summary>For a request type, the type of its answer; else null.</summary>
    public ContractBinding? Response { get; private protected init; }

    public bool HasValidation { get; }

    /// <summary>The strict contract used to read client JSON.</summary>
    public JsonTypeInfo InputInfo { get; private set; } = null!;

    /// <summary>The lenient contract used to write what came from a channel (a nil string from a peer is written as null).</summary>
    public JsonTypeInfo OutputInfo { get; private set; } = null!;

    internal void Bind(GatewayJson json)
    {
        InputInfo = json.Input.GetTypeInfo(Type);
        OutputInfo = json.Output.GetTypeInfo(Type);
    }

    /// <summary>Reads a client's JSON object as this contract (strict: unknown members and nulls in non-nullable members fail).</summary>
    /// <exception cref="JsonException">The JSON does not fit the contract.</exception>
    public object ReadJson(JsonElement element)
    {
        try
        {
            return JsonSerializer.Deserialize(element, InputInfo) ?? throw new JsonException("A message cannot be null.");
        }
        catch (NotSupportedException exception)
        {
            // A nested union without its "type", or a member System.Text.Json cannot read: the client's JSON is wrong.
            throw new JsonException(exception.Message, exception);
        }
    }

    /// <summary>The validation errors of <paramref name="value"/> (empty if it has no validation attributes or passes them).</summary>
    public IReadOnlyList<ValidationResult> Validate(object value)
    {
        if (!HasValidation)
        {
            return [];
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        return results;
    }

    /// <summary>The JSON "type" of a value of this contract: for a union, its member's name.</summary>
    public string JsonNameOf(object value) =>
        IsUnion ? Members.FirstOrDefault(member => member.Type == value.GetType())?.Name ?? Name : Name;

    internal static IReadOnlyList<UnionMember> UnionMembers(Type type) =>
        [.. type.GetCustomAttributes<UnionAttribute>(inherit: false).OrderBy(union => union.Key)
            .Select(union => new UnionMember(union.SubType.Name, union.SubType.FullName ?? union.SubType.Name, union.SubType))];

    private static bool HasValidationAttributes(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Cast<MemberInfo>()
            .Concat(type.GetFields(BindingFlags.Public | BindingFlags.Instance))
            .Any(member => member.IsDefined(typeof(ValidationAttribute), inherit: true))
        || type.IsDefined(typeof(ValidationAttribute), inherit: true);

    public abstract byte[] ToMessagePack(object value);

    /// <summary>Deserializes a payload; throws MessagePackSerializationException if it is not a valid instance.</summary>
    public abstract object FromMessagePack(ReadOnlyMemory<byte> payload);

    /// <exception cref="ArgumentException">The serialized message is larger than the server accepts.</exception>
    public abstract ValueTask SendAsync(PipeClient client, object value, CancellationToken cancellationToken);

    public virtual Task<object> RequestAsync(PipeClient client, object value, TimeSpan timeout, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"{FullName} is not registered as a request type.");

    /// <summary>Throws if MessagePack has no formatter for the type.</summary>
    public abstract void CheckSerializable();
}

/// <summary>A contract type <typeparamref name="T"/>.</summary>
internal class ContractBinding<T> : ContractBinding
{
    public ContractBinding(string name)
        : base(typeof(T), name)
    {
    }

    public override byte[] ToMessagePack(object value) => MessagePackSerializer.Serialize((T)value, IpcSerializer.Options);

    public override object FromMessagePack(ReadOnlyMemory<byte> payload) =>
        MessagePackSerializer.Deserialize<T>(payload, IpcSerializer.Options)
        ?? throw new MessagePackSerializationException("The payload is nil.");

    public override ValueTask SendAsync(PipeClient client, object value, CancellationToken cancellationToken) =>
        client.SendAsync((T)value, cancellationToken: cancellationToken);

    public override void CheckSerializable() => IpcSerializer.Options.Resolver.GetFormatterWithVerify<T>();
}

/// <summary>A request type <typeparamref name="TRequest"/> answered with <typeparamref name="TResponse"/>.</summary>
internal sealed class RequestBinding<TRequest, TResponse> : ContractBinding<TRequest>
{
    public RequestBinding(string name, ContractBinding response)
        : base(name)
    {
        Response = response;
    }

    public override async Task<object> RequestAsync(PipeClient client, object value, TimeSpan timeout, CancellationToken cancellationToken) =>
        (await client.RequestAsync<TRequest, TResponse>((TRequest)value, timeout, cancellationToken).ConfigureAwait(false))
        ?? throw new IpcProtocolException($"The answer to a {FullName} request is nil.");
}

/// <summary>A member of a union contract: its JSON name (the type's short name), full name and type.</summary>
internal sealed record UnionMember(string Name, string FullName, Type Type);
