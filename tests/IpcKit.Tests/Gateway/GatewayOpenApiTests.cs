using System.Text.Json;
using IpcKit.Gateway;

namespace IpcKit.Tests.Gateway;

/// <summary>The OpenAPI description: valid OpenAPI 3.1, and it lists every endpoint the gateway maps and every contract it knows.</summary>
public sealed class GatewayOpenApiTests : GatewayTestBase
{
    [SkippableFact]
    public async Task The_document_lists_every_endpoint_and_contract_and_is_valid_openapi()
    {
        CurlResponse response = await GatewayClients.CurlAsync("GET", Http("/openapi.json"));
        Assert.Equal(200, response.Status);
        JsonElement document = response.Json;
        Assert.Equal("3.1.0", document.GetProperty("openapi").GetString());

        JsonElement paths = document.GetProperty("paths");
        Assert.NotEmpty(Gateway.Endpoints);
        foreach (string endpoint in Gateway.Endpoints)
        {
            string[] parts = endpoint.Split(' ');
            JsonElement operation = default;
            Assert.True(
                paths.TryGetProperty(parts[1], out JsonElement item) && item.TryGetProperty(parts[0].ToLowerInvariant(), out operation),
                $"The OpenAPI document does not describe {endpoint}.");
            Assert.True(operation.TryGetProperty("responses", out _), $"{endpoint} has no responses.");
        }

        int operations = paths.EnumerateObject().Sum(path => path.Value.EnumerateObject().Count());
        Assert.Equal(Gateway.Endpoints.Count, operations);
        Assert.Equal(0, paths.GetProperty("/health").GetProperty("get").GetProperty("security").GetArrayLength());

        JsonElement schemas = document.GetProperty("components").GetProperty("schemas");
        string[] messageTypes = [.. schemas.GetProperty("Message").GetProperty("oneOf").EnumerateArray().Select(r => r.GetProperty("$ref").GetString()!)];
        foreach (string contract in new[] { "Toy", "TextMessage", "SumRequest", "SumResponse", "RawMessage" })
        {
            Assert.True(schemas.TryGetProperty(contract, out JsonElement schema), $"No schema for {contract}.");
            Assert.Contains($"#/components/schemas/{contract}", messageTypes);
            Assert.Equal("type", schema.GetProperty("required")[0].GetString());
        }

        JsonElement toy = schemas.GetProperty("Toy").GetProperty("properties");
        Assert.Equal("Toy", toy.GetProperty("type").GetProperty("const").GetString());
        Assert.Equal(["type", "sequence", "name", "sender", "sentAtUtc"], toy.EnumerateObject().Select(p => p.Name));

        // Validated against the official OpenAPI 3.1 schema by a Node.js validator.
        await AssertValidOpenApiAsync(response.Body);
    }

    [SkippableFact]
    public async Task Contracts_an_embedder_registers_are_described_too()
    {
        var contracts = TestContracts.Demo().Add<Order>("order").AddRequest<Quote, Order>().Add<IOrderEvent>().Add<OrderHistory>();
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = contracts });
        CurlResponse response = await GatewayClients.CurlAsync("GET", Http("/openapi.json"));
        JsonElement schemas = response.Json.GetProperty("components").GetProperty("schemas");

        // A union's members are message types of their own, "type" a constant naming each.
        JsonElement mapping = schemas.GetProperty("Message").GetProperty("discriminator").GetProperty("mapping");
        Assert.Equal("#/components/schemas/OrderShipped", mapping.GetProperty("OrderShipped").GetString());
        Assert.Equal("OrderShipped", schemas.GetProperty("OrderShipped").GetProperty("properties").GetProperty("type").GetProperty("const").GetString());
        Assert.Contains("type", schemas.GetProperty("OrderShipped").GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(2, schemas.GetProperty("IOrderEvent").GetProperty("oneOf").GetArrayLength());
        await AssertValidOpenApiAsync(response.Body);

        JsonElement order = schemas.GetProperty("order");
        Assert.Equal("order", order.GetProperty("properties").GetProperty("type").GetProperty("const").GetString());
        Assert.Equal(["type", "id", "items"], order.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Contains("a request answered with order", schemas.GetProperty("Quote").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Validates the document against the official OpenAPI 3.1 schema, with a Node.js validator.</summary>
    private static async Task AssertValidOpenApiAsync(string document)
    {
        using var folder = new TempDirectory();
        string file = folder.File("openapi.json");
        await File.WriteAllTextAsync(file, document);
        using ChildProcess validator = await GatewayClients.NodeAsync("openapi-validate.mjs", file);
        Assert.Equal("VALID openapi=3.1.0", await validator.WaitForLineAsync("VALID"));
        await validator.AssertExitCodeAsync(0);
    }
}
