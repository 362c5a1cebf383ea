using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MessagePack;

namespace IpcKit.Gateway.Json;

/// <summary>
/// The System.Text.Json settings for contracts: camelCase member names, and exactly the members MessagePack puts on
/// the wire (those with <c>[Key]</c>), plus a <c>"type"</c> member written first that names the contract. Client JSON
/// is read strictly: unknown members, duplicate members, nulls in non-nullable members, numbers in strings, comments
/// and trailing commas are all errors.
/// </summary>
internal sealed class GatewayJson
{
    /// <summary>The name of the member that carries a message's contract name.</summary>
    public const string TypeProperty = "type";

    /// <summary>Untyped bytes (message type id 0), carried as base64.</summary>
    public const string RawTypeName = "raw";

    /// <summary>A message whose type id no registered contract has.</summary>
    public const string UnknownTypeName = "unknown";

    /// <summary>A message whose type id is known but whose payload does not deserialize.</summary>
    public const string InvalidTypeName = "invalid";

    /// <summary>Names the gateway keeps for its own frames (for example <c>ipckit.error</c>).</summary>
    public const string ReservedPrefix = "ipckit.";

    public const int MaxDepth = 64;

    private readonly ContractRegistry _registry;

    public GatewayJson(ContractRegistry registry)
    {
        _registry = registry;
        Input = Create(strict: true);
        Output = Create(strict: false);
        Input.MakeReadOnly();
        Output.MakeReadOnly();
        DocumentOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = false,
            CommentHandling = JsonCommentHandling.Disallow,
            MaxDepth = MaxDepth,
            AllowDuplicateProperties = false,
        };
    }

    /// <summary>Reading client JSON: strict.</summary>
    public JsonSerializerOptions Input { get; }

    /// <summary>Writing what came from a channel: the same shape, but a null where the contract says non-null is written, not refused.</summary>
    public JsonSerializerOptions Output { get; }

    public JsonDocumentOptions DocumentOptions { get; }

    public static JsonWriterOptions WriterOptions { get; } = new() { SkipValidation = true };

    private JsonSerializerOptions Create(bool strict)
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(KeepWireMembers);
        resolver.Modifiers.Add(AddTypeMember);
        resolver.Modifiers.Add(DescribeUnion);
        return new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            PropertyNameCaseInsensitive = false,
            // Client numbers must be numbers; a NaN from a peer is written as the string "NaN" rather than failing the message.
            NumberHandling = strict ? JsonNumberHandling.Strict : JsonNumberHandling.AllowNamedFloatingPointLiterals,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            RespectNullableAnnotations = strict,
            RespectRequiredConstructorParameters = true,
            AllowDuplicateProperties = false,
            AllowTrailingCommas = false,
            ReadCommentHandling = JsonCommentHandling.Disallow,

            // A union's "type" (its discriminator) may come anywhere in the object, as for any other contract.
            AllowOutOfOrderMetadataProperties = true,
            IncludeFields = true,
            MaxDepth = MaxDepth,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
            TypeInfoResolver = resolver,
        };
    }

    /// <summary>On a [MessagePackObject], keeps only the members MessagePack serializes: JSON carries what the wire carries.</summary>
    private static void KeepWireMembers(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || info.Type.GetCustomAttribute<MessagePackObjectAttribute>() is not { } contract)
        {
            return;
        }

        for (int i = info.Properties.Count - 1; i >= 0; i--)
        {
            ICustomAttributeProvider? member = info.Properties[i].AttributeProvider;
            bool ignored = member?.IsDefined(typeof(IgnoreMemberAttribute), inherit: true) == true;
            bool keyed = member?.IsDefined(typeof(KeyAttribute), inherit: true) == true;
            if (ignored || (!keyed && !contract.KeyAsPropertyName))
            {
                info.Properties.RemoveAt(i);
            }
        }
    }

    /// <summary>Adds "type" (first, with the contract's short name) to every registered contract, and refuses a contract that has a member of that name.</summary>
    private void AddTypeMember(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || _registry.Find(MessageTypeIdOf(info.Type)) is not { } binding || binding.Type != info.Type || binding.IsUnion)
        {
            return;
        }

        if (info.Properties.Any(property => string.Equals(property.Name, TypeProperty, StringComparison.OrdinalIgnoreCase)))
        {
            throw new InvalidOperationException(
                $"{binding.FullName} has a member that is called \"{TypeProperty}\" in JSON, the name the gateway uses for a message's contract; rename it or mark it [JsonPropertyName].");
        }

        string name = binding.Name;
        JsonPropertyInfo type = info.CreateJsonPropertyInfo(typeof(string), TypeProperty);
        type.Get = _ => name;
        type.Set = (_, value) =>
        {
            // The top-level "type" picked this contract already; a nested one must agree with its own member's type.
            if (value is not string given || (given != binding.Name && given != binding.FullName))
            {
                throw new JsonException($"\"{TypeProperty}\" is '{value}' where a {binding.Name} is expected.");
            }
        };
        type.Order = int.MinValue;
        info.Properties.Insert(0, type);
    }

    /// <summary>
    /// A MessagePack union (registered, or a member of a contract) is polymorphic in JSON: "type" names the member, by its
    /// short name, and an unknown name or a missing "type" is an error rather than a guess.
    /// </summary>
    private static void DescribeUnion(JsonTypeInfo info)
    {
        IReadOnlyList<UnionMember> members = ContractBinding.UnionMembers(info.Type);
        if (members.Count == 0 || info.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        var polymorphism = new JsonPolymorphismOptions
        {
            TypeDiscriminatorPropertyName = TypeProperty,
            UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
            IgnoreUnrecognizedTypeDiscriminators = false,
        };
        foreach (UnionMember member in members)
        {
            polymorphism.DerivedTypes.Add(new JsonDerivedType(member.Type, member.Name));
        }

        info.PolymorphismOptions = polymorphism;
    }

    private static int MessageTypeIdOf(Type type) => IpcKit.Serialization.MessageTypeId.Of(type);
}
