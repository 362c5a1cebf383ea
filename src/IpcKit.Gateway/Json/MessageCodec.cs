using System.Buffers;
using System.Text.Json;
using IpcKit.Gateway.Http;
using MessagePack;

namespace IpcKit.Gateway.Json;

/// <summary>A message parsed from client JSON and checked, ready to enter a channel: a contract value, or raw bytes.</summary>
internal readonly record struct OutgoingMessage(ContractBinding? Binding, object? Value, byte[]? Raw)
{
    public int TypeId => Binding?.TypeId ?? 0;

    public string TypeName => Binding?.JsonNameOf(Value!) ?? GatewayJson.RawTypeName;

    /// <summary>The MessagePack body (or the raw bytes).</summary>
    public byte[] ToPayload() => Binding is null ? Raw! : Binding.ToMessagePack(Value!);
}

/// <summary>
/// Converts between client JSON and channel messages. Reading: the body is parsed as a whole first, so a batch with
/// one bad message is refused before any of it enters a channel. Writing: a message from a channel is rendered by its
/// type id, and never fails: raw bytes, an unknown id and an undeserializable payload each have their own JSON shape.
/// </summary>
internal sealed class MessageCodec
{
    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode(GatewayJson.TypeProperty);
    private static readonly JsonEncodedText s_base64 = JsonEncodedText.Encode("base64");
    private static readonly JsonEncodedText s_typeId = JsonEncodedText.Encode("typeId");

    private readonly ContractRegistry _registry;
    private readonly GatewayJson _json;

    public MessageCodec(ContractRegistry registry)
    {
        _registry = registry;
        _json = registry.Freeze();
    }

    public ContractRegistry Registry => _registry;

    /// <summary>Parses a body holding one message (a JSON object) or, if <paramref name="allowBatch"/>, an array of them.</summary>
    /// <exception cref="GatewayProblem">400: the JSON is malformed, a type is unknown, or a message does not fit its contract.</exception>
    public List<OutgoingMessage> Parse(ReadOnlyMemory<byte> body, bool allowBatch) => Parse(new ReadOnlySequence<byte>(body), allowBatch);

    /// <summary>Parses a body that may lie in several buffers.</summary>
    public List<OutgoingMessage> Parse(ReadOnlySequence<byte> body, bool allowBatch)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, _json.DocumentOptions);
        }
        catch (JsonException exception)
        {
            throw GatewayProblem.BadRequest("malformed-json", $"The body is not valid JSON: {exception.Message}");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            switch (root.ValueKind)
            {
                case JsonValueKind.Object:
                    return [ParseOne(root, index: null)];
                case JsonValueKind.Array when allowBatch:
                    int length = root.GetArrayLength();
                    if (length == 0)
                    {
                        throw GatewayProblem.BadRequest("invalid-message", "The batch is an empty array; send at least one message.");
                    }

                    var messages = new List<OutgoingMessage>(length);
                    int index = 0;
                    foreach (JsonElement element in root.EnumerateArray())
                    {
                        messages.Add(ParseOne(element, index++));
                    }

                    return messages;
                default:
                    throw GatewayProblem.BadRequest(
                        "invalid-message",
                        allowBatch
                            ? $"The body is a JSON {Describe(root.ValueKind)}; send one message as an object, or a batch as an array of objects."
                            : $"The body is a JSON {Describe(root.ValueKind)}; send one message as an object.");
            }
        }
    }

    /// <summary>Parses one message object.</summary>
    /// <exception cref="GatewayProblem">400 with the reason.</exception>
    public OutgoingMessage ParseOne(JsonElement element, int? index)
    {
        string where = index is int i ? $"Message {i} of the batch" : "The message";
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw GatewayProblem.BadRequest("invalid-message", $"{where} is a JSON {Describe(element.ValueKind)}, not an object.");
        }

        if (!element.TryGetProperty(GatewayJson.TypeProperty, out JsonElement type) || type.ValueKind != JsonValueKind.String)
        {
            throw UnknownType($"{where} has no \"type\" string naming its contract.");
        }

        string name = type.GetString()!;
        if (name == GatewayJson.RawTypeName)
        {
            return ParseRaw(element, where);
        }

        ContractBinding binding = _registry.Find(name) ?? throw (_registry.FindUnion(name) is { } union
            ? UnknownType($"{where} has the type '{union.Name}', a union; name the member it is instead ({string.Join(", ", union.Members.Select(member => member.Name))}).")
            : UnknownType($"{where} has the type '{Truncate(name)}', which the gateway does not know."));
        string typeName = binding.IsUnion ? name : binding.Name;
        object value;
        try
        {
            value = binding.ReadJson(element);
        }
        catch (JsonException exception)
        {
            throw GatewayProblem.BadRequest("invalid-message", $"{where} is not a valid {typeName}: {exception.Message}")
                .With("messageType", typeName);
        }

        var errors = binding.Validate(value);
        if (errors.Count > 0)
        {
            throw GatewayProblem.BadRequest("invalid-message", $"{where} is not a valid {typeName}: {string.Join(" ", errors.Select(e => e.ErrorMessage))}")
                .With("messageType", typeName)
                .With("errors", errors.Select(e => new { members = e.MemberNames.ToArray(), message = e.ErrorMessage }).ToArray());
        }

        return new OutgoingMessage(binding, value, null);
    }

    /// <summary>Writes a message that came from a channel as one JSON value.</summary>
    public void Write(Utf8JsonWriter writer, int typeId, ReadOnlyMemory<byte> payload)
    {
        if (typeId == 0)
        {
            writer.WriteStartObject();
            writer.WriteString(s_type, GatewayJson.RawTypeName);
            writer.WriteBase64String(s_base64, payload.Span);
            writer.WriteEndObject();
            return;
        }

        ContractBinding? binding = _registry.Find(typeId);
        if (binding is null)
        {
            writer.WriteStartObject();
            writer.WriteString(s_type, GatewayJson.UnknownTypeName);
            writer.WriteNumber(s_typeId, typeId);
            writer.WriteBase64String(s_base64, payload.Span);
            writer.WriteEndObject();
            return;
        }

        // Into a scratch buffer first: a value that fails halfway must not leave half an object in the output.
        var scratch = new ArrayBufferWriter<byte>(Math.Max(256, payload.Length * 2));
        string? error = null;
        try
        {
            object value = binding.FromMessagePack(payload);
            using var inner = new Utf8JsonWriter(scratch, GatewayJson.WriterOptions);
            JsonSerializer.Serialize(inner, value, binding.OutputInfo);
        }
        catch (Exception exception) when (exception is MessagePackSerializationException or JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            error = exception.Message;
        }

        if (error is null)
        {
            writer.WriteRawValue(scratch.WrittenSpan, skipInputValidation: true);
            return;
        }

        writer.WriteStartObject();
        writer.WriteString(s_type, GatewayJson.InvalidTypeName);
        writer.WriteNumber(s_typeId, typeId);
        writer.WriteString("contract", binding.Name);
        writer.WriteString("error", error);
        writer.WriteBase64String(s_base64, payload.Span);
        writer.WriteEndObject();
    }

    /// <summary>Writes a message whose payload is only valid during the call (ring memory).</summary>
    public void Write(Utf8JsonWriter writer, int typeId, ReadOnlySpan<byte> payload)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(payload.Length);
        try
        {
            payload.CopyTo(copy);
            Write(writer, typeId, copy.AsMemory(0, payload.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>One message as the UTF-8 JSON of a WebSocket text frame.</summary>
    public byte[] Render(int typeId, ReadOnlySpan<byte> payload)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, payload.Length * 2));
        using (var writer = new Utf8JsonWriter(buffer, GatewayJson.WriterOptions))
        {
            Write(writer, typeId, payload);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes a contract value (a request's answer).</summary>
    public static void WriteValue(Utf8JsonWriter writer, ContractBinding binding, object value) =>
        JsonSerializer.Serialize(writer, value, binding.OutputInfo);

    /// <summary>Writes raw bytes as a "raw" message.</summary>
    public static void WriteRaw(Utf8JsonWriter writer, ReadOnlySpan<byte> bytes)
    {
        writer.WriteStartObject();
        writer.WriteString(s_type, GatewayJson.RawTypeName);
        writer.WriteBase64String(s_base64, bytes);
        writer.WriteEndObject();
    }

    /// <summary>The names a client may use in "type".</summary>
    public string[] KnownTypeNames() => [.. _registry.Names, GatewayJson.RawTypeName];

    private GatewayProblem UnknownType(string detail) =>
        GatewayProblem.BadRequest("unknown-type", $"{detail} Use one of: {string.Join(", ", KnownTypeNames())} (or a full type name).")
            .With("knownTypes", KnownTypeNames());

    private static OutgoingMessage ParseRaw(JsonElement element, string where)
    {
        byte[]? bytes = null;
        foreach (JsonProperty property in element.EnumerateObject())
        {
            switch (property.Name)
            {
                case GatewayJson.TypeProperty:
                    break;
                case "base64" when property.Value.ValueKind == JsonValueKind.String:
                    if (!property.Value.TryGetBytesFromBase64(out bytes))
                    {
                        throw GatewayProblem.BadRequest("invalid-message", $"{where} is a raw message whose \"base64\" is not valid base64.");
                    }

                    break;
                default:
                    throw GatewayProblem.BadRequest(
                        "invalid-message", $"{where} is a raw message with the member \"{Truncate(property.Name)}\"; a raw message has only \"type\" and \"base64\" (a string).");
            }
        }

        return bytes is null
            ? throw GatewayProblem.BadRequest("invalid-message", $"{where} is a raw message without \"base64\".")
            : new OutgoingMessage(null, null, bytes);
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Truncate(string text) => text.Length <= 100 ? text : text[..100] + "...";
}
