using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using IpcKit.Gateway.Json;
using Microsoft.AspNetCore.Routing;

namespace IpcKit.Gateway.Http;

/// <summary>
/// Builds the OpenAPI 3.1 description from the endpoints the gateway maps (their <see cref="OperationDoc"/> metadata)
/// and the contracts it knows (their JSON schemas, exported from the very System.Text.Json contracts that read and
/// write them), so the description and the behaviour cannot drift apart.
/// </summary>
internal static class OpenApiDocument
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    /// <param name="endpoints">The gateway's endpoints, each with its path relative to <paramref name="prefix"/>.</param>
    /// <param name="methods">The methods to describe for an endpoint.</param>
    /// <param name="prefix">Where the gateway is mounted in an app ("" when it serves on its own); the document's server URL.</param>
    /// <param name="registry">The contracts.</param>
    public static byte[] Build(IEnumerable<(string Path, RouteEndpoint Endpoint)> endpoints, Func<RouteEndpoint, IEnumerable<string>> methods, string prefix, ContractRegistry registry)
    {
        var paths = new JsonObject();
        foreach ((string path, RouteEndpoint endpoint) in endpoints.OrderBy(e => e.Path, StringComparer.Ordinal))
        {
            OperationDoc? doc = endpoint.Metadata.GetMetadata<OperationDoc>();
            if (doc is null)
            {
                continue;
            }

            if (paths[path] is not JsonObject item)
            {
                item = [];
                paths[path] = item;
            }

            foreach (string method in methods(endpoint))
            {
                item[method.ToLowerInvariant()] = Operation(doc, endpoint.RoutePattern.Parameters.Select(p => p.Name));
            }
        }

        var document = new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = "IpcKit gateway",
                ["version"] = typeof(OpenApiDocument).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
                ["description"] =
                    "REST/JSON and WebSocket access to IpcKit rings and pipe channels. A message is a JSON object whose \"type\" names its contract " +
                    "(see /contracts); it is converted to the MessagePack contract before it enters a channel. Untyped bytes are {\"type\":\"raw\",\"base64\":...}. " +
                    "Every refusal is an application/problem+json document with a stable \"code\".",
            },
            ["servers"] = new JsonArray(new JsonObject { ["url"] = prefix.Length > 0 ? prefix : "/" }),
            ["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }),
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["securitySchemes"] = new JsonObject
                {
                    ["bearer"] = new JsonObject
                    {
                        ["type"] = "http",
                        ["scheme"] = "bearer",
                        ["description"] = "The token the gateway printed at start and stored in its token file. On WebSockets also as the subprotocol ipckit.bearer.TOKEN or the query parameter access_token.",
                    },
                },
                ["schemas"] = Schemas(registry),
            },
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, s_indented);
    }

    private static JsonObject Operation(OperationDoc doc, IEnumerable<string> pathParameters)
    {
        var parameters = new JsonArray();
        foreach (string name in pathParameters)
        {
            parameters.Add(new JsonObject
            {
                ["name"] = name,
                ["in"] = "path",
                ["required"] = true,
                ["description"] = "The ring or pipe name: 1 or more of A-Z a-z 0-9 . _ -, not starting with '.'.",
                ["schema"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[A-Za-z0-9_-][A-Za-z0-9._-]*$" },
            });
        }

        foreach (ParameterDoc query in doc.Query)
        {
            var schema = new JsonObject { ["type"] = query.Type };
            if (query.Default is not null)
            {
                schema["default"] = JsonValue.Create(query.Default);
            }

            if (query.Minimum is long minimum)
            {
                schema["minimum"] = minimum;
            }

            if (query.Maximum is long maximum)
            {
                schema["maximum"] = maximum;
            }

            if (query.Values is { } values)
            {
                schema["enum"] = new JsonArray([.. values.Select(v => (JsonNode)v)]);
            }

            parameters.Add(new JsonObject { ["name"] = query.Name, ["in"] = "query", ["description"] = query.Description, ["schema"] = schema });
        }

        if (doc.WebSocket)
        {
            parameters.Add(new JsonObject
            {
                ["name"] = "Sec-WebSocket-Protocol",
                ["in"] = "header",
                ["description"] = "Offer ipckit.v1; browsers may add ipckit.bearer.TOKEN to carry the token.",
                ["schema"] = new JsonObject { ["type"] = "string" },
            });
        }

        var responses = new JsonObject();
        foreach (ResponseDoc response in doc.Responses)
        {
            string status = response.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (responses[status] is not null)
            {
                // Several reasons for one status: one entry that names them all.
                responses[status]!["description"] = $"{responses[status]!["description"]!.GetValue<string>()} Or: {response.Description}";
                continue;
            }

            var entry = new JsonObject { ["description"] = response.Description };
            if (response.Schema is not null)
            {
                string mediaType = response.Schema == "Problem" ? "application/problem+json" : "application/json";
                entry["content"] = new JsonObject { [mediaType] = new JsonObject { ["schema"] = Reference(response.Schema) } };
            }

            responses[status] = entry;
        }

        var operation = new JsonObject
        {
            ["operationId"] = doc.OperationId,
            ["summary"] = doc.Summary,
            ["description"] = doc.Description,
            ["parameters"] = parameters,
            ["responses"] = responses,
        };
        if (doc.RequestBody is not null)
        {
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = Reference(doc.RequestBody) } },
            };
        }

        if (doc.Anonymous)
        {
            operation["security"] = new JsonArray();
        }

        return operation;
    }

    private static JsonObject Schemas(ContractRegistry registry)
    {
        var schemas = new JsonObject();
        var exporter = new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = (context, node) =>
            {
                // The "type" member the gateway adds to each contract: a constant, and required at the top.
                if (context.PropertyInfo?.Name == GatewayJson.TypeProperty && registry.Find(IpcKit.Serialization.MessageTypeId.Of(context.PropertyInfo.DeclaringType)) is { } owner)
                {
                    return new JsonObject { ["type"] = "string", ["const"] = owner.Name };
                }

                if (context.Path.IsEmpty && node is JsonObject root)
                {
                    var required = root["required"] as JsonArray ?? [];
                    if (!required.Any(n => n?.GetValue<string>() == GatewayJson.TypeProperty))
                    {
                        required.Insert(0, GatewayJson.TypeProperty);
                    }

                    root["required"] = required;
                }

                return node;
            },
        };

        var messages = new JsonArray();
        var mapping = new JsonObject();
        foreach (ContractBinding binding in registry.Bindings)
        {
            if (binding.IsUnion)
            {
                AddUnion(schemas, messages, mapping, registry.Json.Input.GetJsonSchemaAsNode(binding.Type, exporter), binding);
                continue;
            }

            JsonNode schema = registry.Json.Input.GetJsonSchemaAsNode(binding.Type, exporter);
            if (schema is JsonObject contract)
            {
                contract["description"] = $"{binding.FullName} (message type id {binding.TypeId}){(binding.Response is { } response ? $"; a request answered with {response.Name}" : "")}.";
            }

            schemas[binding.Name] = schema;
            messages.Add(Reference(binding.Name));
            mapping[binding.Name] = $"#/components/schemas/{binding.Name}";
        }

        schemas["RawMessage"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "Untyped bytes (message type id 0).",
            ["properties"] = new JsonObject
            {
                ["type"] = new JsonObject { ["type"] = "string", ["const"] = GatewayJson.RawTypeName },
                ["base64"] = new JsonObject { ["type"] = "string", ["contentEncoding"] = "base64" },
            },
            ["required"] = new JsonArray("type", "base64"),
            ["additionalProperties"] = false,
        };
        messages.Add(Reference("RawMessage"));
        mapping[GatewayJson.RawTypeName] = "#/components/schemas/RawMessage";

        schemas["Message"] = new JsonObject
        {
            ["description"] = "A message a client sends: a registered contract, or raw bytes, chosen by \"type\".",
            ["oneOf"] = messages,
            ["discriminator"] = new JsonObject { ["propertyName"] = GatewayJson.TypeProperty, ["mapping"] = mapping },
        };
        schemas["MessageOrBatch"] = new JsonObject
        {
            ["oneOf"] = new JsonArray(Reference("Message"), new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = Reference("Message") }),
        };
        schemas["UnknownMessage"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "A message read from a channel whose type id no registered contract has.",
            ["properties"] = new JsonObject
            {
                ["type"] = new JsonObject { ["type"] = "string", ["const"] = GatewayJson.UnknownTypeName },
                ["typeId"] = new JsonObject { ["type"] = "integer", ["format"] = "int32" },
                ["base64"] = new JsonObject { ["type"] = "string", ["contentEncoding"] = "base64" },
            },
            ["required"] = new JsonArray("type", "typeId", "base64"),
        };
        schemas["InvalidMessage"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "A message read from a channel whose payload does not deserialize as its contract.",
            ["properties"] = new JsonObject
            {
                ["type"] = new JsonObject { ["type"] = "string", ["const"] = GatewayJson.InvalidTypeName },
                ["typeId"] = new JsonObject { ["type"] = "integer", ["format"] = "int32" },
                ["contract"] = new JsonObject { ["type"] = "string" },
                ["error"] = new JsonObject { ["type"] = "string" },
                ["base64"] = new JsonObject { ["type"] = "string", ["contentEncoding"] = "base64" },
            },
            ["required"] = new JsonArray("type", "typeId", "contract", "error", "base64"),
        };
        schemas["ReceivedMessage"] = new JsonObject
        {
            ["description"] = "A message read from a channel.",
            ["oneOf"] = new JsonArray(Reference("Message"), Reference("UnknownMessage"), Reference("InvalidMessage")),
        };
        schemas["ReadMessages"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["ring"] = new JsonObject { ["type"] = "string" },
                ["messages"] = new JsonObject { ["type"] = "array", ["items"] = Reference("ReceivedMessage") },
                ["count"] = new JsonObject { ["type"] = "integer" },
            },
            ["required"] = new JsonArray("ring", "messages", "count"),
        };
        schemas["Accepted"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "How many messages went into the channel (ring or pipe names it).",
            ["properties"] = new JsonObject
            {
                ["ring"] = new JsonObject { ["type"] = "string" },
                ["pipe"] = new JsonObject { ["type"] = "string" },
                ["count"] = new JsonObject { ["type"] = "integer" },
            },
            ["required"] = new JsonArray("count"),
        };
        schemas["Health"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["status"] = new JsonObject { ["type"] = "string", ["const"] = "ok" } },
            ["required"] = new JsonArray("status"),
        };
        schemas["Contracts"] = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["contracts"] = new JsonObject
                {
                    ["type"] = "array",
                    ["items"] = new JsonObject
                    {
                        ["type"] = "object",
                        ["properties"] = new JsonObject
                        {
                            ["name"] = new JsonObject { ["type"] = "string" },
                            ["fullName"] = new JsonObject { ["type"] = "string" },
                            ["typeId"] = new JsonObject { ["type"] = "integer", ["format"] = "int32" },
                            ["responseType"] = new JsonObject { ["type"] = new JsonArray("string", "null") },
                        },
                        ["required"] = new JsonArray("name", "fullName", "typeId", "responseType"),
                    },
                },
            },
            ["required"] = new JsonArray("contracts"),
        };
        schemas["Problem"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "RFC 9457 problem details; code is stable (for example unknown-type, role-taken, channel-full), other members depend on it.",
            ["properties"] = new JsonObject
            {
                ["type"] = new JsonObject { ["type"] = "string" },
                ["title"] = new JsonObject { ["type"] = "string" },
                ["status"] = new JsonObject { ["type"] = "integer" },
                ["detail"] = new JsonObject { ["type"] = "string" },
                ["instance"] = new JsonObject { ["type"] = "string" },
                ["code"] = new JsonObject { ["type"] = "string" },
            },
            ["required"] = new JsonArray("title", "status", "detail", "code"),
        };
        return schemas;
    }

    /// <summary>
    /// A union: each member gets its own schema (the union's polymorphic schema has one variant per member, in member
    /// order, each with "type" as a constant), and the union's schema is the choice among them.
    /// </summary>
    private static void AddUnion(JsonObject schemas, JsonArray messages, JsonObject mapping, JsonNode union, ContractBinding binding)
    {
        JsonArray? variants = union["anyOf"] as JsonArray;
        var choice = new JsonArray();
        for (int i = 0; i < binding.Members.Count; i++)
        {
            UnionMember member = binding.Members[i];
            JsonNode schema = variants is not null && i < variants.Count ? variants[i]!.DeepClone() : new JsonObject { ["type"] = "object" };
            if (schema is JsonObject variant)
            {
                // A member is chosen by its "type", so a message without it is not one.
                var required = variant["required"] as JsonArray ?? [];
                if (!required.Any(name => name?.GetValue<string>() == GatewayJson.TypeProperty))
                {
                    required.Insert(0, GatewayJson.TypeProperty);
                }

                variant["required"] = required;
                variant["description"] = $"{member.FullName}, a member of the union {binding.FullName} (message type id {binding.TypeId}){(binding.Response is { } response ? $"; a request answered with {response.Name}" : "")}.";
            }

            schemas[member.Name] = schema;
            messages.Add(Reference(member.Name));
            mapping[member.Name] = $"#/components/schemas/{member.Name}";
            choice.Add(Reference(member.Name));
        }

        schemas[binding.Name] = new JsonObject
        {
            ["description"] = $"The union {binding.FullName} (message type id {binding.TypeId}): \"type\" names the member.",
            ["oneOf"] = choice,
        };
    }

    private static JsonObject Reference(string schema) => new() { ["$ref"] = $"#/components/schemas/{schema}" };
}
