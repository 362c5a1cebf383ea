namespace IpcKit.Gateway.Http;

/// <summary>
/// What the OpenAPI document says about one endpoint, attached to it as metadata: the document is generated from the
/// endpoints the gateway actually maps, so it cannot list one that does not exist or miss one that does.
/// </summary>
internal sealed record OperationDoc(string OperationId, string Summary, string Description)
{
    /// <summary>Query parameters.</summary>
    public IReadOnlyList<ParameterDoc> Query { get; init; } = [];

    /// <summary>The request body's schema (a component name), or null for none.</summary>
    public string? RequestBody { get; init; }

    /// <summary>Responses by status code.</summary>
    public IReadOnlyList<ResponseDoc> Responses { get; init; } = [];

    /// <summary>Whether the endpoint answers without the bearer token.</summary>
    public bool Anonymous { get; init; }

    /// <summary>Whether the endpoint is left out of the OpenAPI document (the catch-all of a mounted gateway).</summary>
    public bool Hidden { get; init; }

    /// <summary>Whether the endpoint is a WebSocket upgrade (then the token may also come as a subprotocol or query parameter).</summary>
    public bool WebSocket { get; init; }
}

/// <summary>A query parameter: name, JSON schema type, description and limits.</summary>
internal sealed record ParameterDoc(string Name, string Type, string Description)
{
    public object? Default { get; init; }

    public long? Minimum { get; init; }

    public long? Maximum { get; init; }

    public IReadOnlyList<string>? Values { get; init; }
}

/// <summary>A response: status, description and the schema of its body (a component name), if any.</summary>
internal sealed record ResponseDoc(int Status, string Description, string? Schema = null);
