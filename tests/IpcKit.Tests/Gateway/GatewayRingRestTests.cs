using System.Text.Json;
using IpcKit.Contracts;
using IpcKit.Gateway;
using IpcKit.Serialization;
using IpcKit.SharedMemory;

namespace IpcKit.Tests.Gateway;

/// <summary>REST against rings, with curl as the client and real ring peers in child processes.</summary>
public sealed class GatewayRingRestTests : GatewayTestBase
{
    [SkippableFact]
    public async Task Health_answers_without_a_token()
    {
        // The URL has no trailing slash: "$URL/health" is the endpoint, not "//health".
        Assert.False(Gateway.Url!.EndsWith('/'), Gateway.Url);
        CurlResponse response = await GatewayClients.CurlAsync("GET", new Uri($"{Gateway.Url}/health"));
        AssertStatus(200, response);
        Assert.Equal("ok", response.Json.GetProperty("status").GetString());
    }

    [SkippableFact]
    public async Task A_union_contract_is_posted_and_read_back_by_its_members_names()
    {
        await RestartAsync(new GatewayOptions { WriteTokenFile = false, Contracts = new ContractRegistry().Add<IOrderEvent>() });
        string ring = CreateRing();
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """[{"type":"OrderPlaced","id":1,"items":2},{"type":"OrderShipped","id":1,"carrier":"post"}]"""));

        CurlResponse read = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(200, read);
        Assert.Equal(
            """[{"type":"OrderPlaced","id":1,"items":2},{"type":"OrderShipped","id":1,"carrier":"post"}]""",
            read.Json.GetProperty("messages").GetRawText());

        JsonElement union = Assert.Single(GetContracts((await GetAsync("/contracts")).Json));
        Assert.Equal("IOrderEvent", union.GetProperty("name").GetString());
        Assert.Equal(MessageTypeId.Of<IOrderEvent>(), union.GetProperty("typeId").GetInt32());
        Assert.Equal(["OrderPlaced", "OrderShipped"], union.GetProperty("members").EnumerateArray().Select(m => m.GetString()));

        static JsonElement[] GetContracts(JsonElement body) => [.. body.GetProperty("contracts").EnumerateArray()];
    }

    [SkippableFact]
    public async Task A_posted_message_is_read_by_a_ring_reader_in_another_process()
    {
        string ring = CreateRing();
        ChildProcess reader = await StartChildAsync("gateway-ring-read", ring, "4");

        AssertStatus(202, await PostAsync($"/rings/{ring}/messages",
            """{"type":"Toy","sequence":7,"name":"kite","sender":"curl","sentAtUtc":"2024-05-06T07:08:09Z"}"""));
        CurlResponse batch = await PostAsync($"/rings/{ring}/messages",
            """[{"type":"IpcKit.Contracts.TextMessage","message":"hello","from":"curl","to":"reader"},{"type":"raw","base64":"AAEC/w=="},{"type":"Toy","sequence":8}]""");
        AssertStatus(202, batch);
        Assert.Equal(3, batch.Json.GetProperty("count").GetInt32());

        Assert.Equal("TOY 7 kite curl 2024-05-06T07:08:09.0000000Z", await reader.WaitForLineAsync("TOY"));
        Assert.Equal("TEXT hello|curl|reader", await reader.WaitForLineAsync("TEXT"));
        Assert.Equal("RAW AAEC/w==", await reader.WaitForLineAsync("RAW"));

        // Members a client leaves out take their defaults, as with any MessagePack peer that does not know them.
        Assert.Equal("TOY 8   0001-01-01T00:00:00.0000000Z", await reader.WaitForLineAsync("TOY"));
        await reader.AssertExitCodeAsync(0);
    }

    [SkippableFact]
    public async Task Get_drains_up_to_max_messages_in_order_and_renders_every_kind_of_record()
    {
        string ring = CreateRing();
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);
        foreach (string command in new[] { "toy 1 first", "text second", "raw AQID", $"other 12345 BAU=", "garbage" })
        {
            await writer.Input.WriteLineAsync(command);
            await writer.Input.FlushAsync();
            await writer.WaitForLineAsync("OK");
        }

        CurlResponse first = await GetAsync($"/rings/{ring}/messages?max=2");
        AssertStatus(200, first);
        Assert.Equal(2, first.Json.GetProperty("count").GetInt32());
        JsonElement[] messages = [.. first.Json.GetProperty("messages").EnumerateArray()];
        Assert.Equal("Toy", messages[0].GetProperty("type").GetString());
        Assert.Equal(1, messages[0].GetProperty("sequence").GetInt64());
        Assert.Equal("first", messages[0].GetProperty("name").GetString());
        Assert.Equal("TextMessage", messages[1].GetProperty("type").GetString());
        Assert.Equal("second", messages[1].GetProperty("message").GetString());

        CurlResponse rest = await GetAsync($"/rings/{ring}/messages");
        messages = [.. rest.Json.GetProperty("messages").EnumerateArray()];
        Assert.Equal(3, messages.Length);
        Assert.Equal("""{"type":"raw","base64":"AQID"}""", messages[0].GetRawText());
        Assert.Equal("""{"type":"unknown","typeId":12345,"base64":"BAU="}""", messages[1].GetRawText());
        Assert.Equal("invalid", messages[2].GetProperty("type").GetString());
        Assert.Equal(MessageTypeId.Of<Toy>(), messages[2].GetProperty("typeId").GetInt32());
        Assert.Equal("Toy", messages[2].GetProperty("contract").GetString());
        Assert.Equal("wcHB", messages[2].GetProperty("base64").GetString());

        CurlResponse empty = await GetAsync($"/rings/{ring}/messages");
        Assert.Equal("""{"ring":"RING","messages":[],"count":0}""".Replace("RING", ring, StringComparison.Ordinal), empty.Body);
    }

    [SkippableFact]
    public async Task Get_with_wait_returns_as_soon_as_a_message_arrives()
    {
        string ring = CreateRing();
        ChildProcess writer = await StartChildAsync("gateway-ring-write", ring);

        // The GET waits in the gateway (up to 30 s) until the child writes; the test never sleeps.
        Task<CurlResponse> poll = GetAsync($"/rings/{ring}/messages?wait=30000");
        Assert.NotSame(poll, await Task.WhenAny(poll, Task.Delay(TestTimeouts.Expected)));
        await writer.Input.WriteLineAsync("text late");
        await writer.Input.FlushAsync();
        CurlResponse response = await poll;
        AssertStatus(200, response);
        Assert.Equal("late", response.Json.GetProperty("messages")[0].GetProperty("message").GetString());
    }

    private static readonly (string Body, string Code)[] s_badBodies =
    [
        ("{", "malformed-json"),
        ("""{"type":"Toy","sequence":1,}""", "malformed-json"),
        ("""{"type":"Toy"} // comment""", "malformed-json"),
        ("""{"type":"Toy","type":"Toy"}""", "malformed-json"),
        ("\"just a string\"", "invalid-message"),
        ("[]", "invalid-message"),
        ("""{"sequence":1}""", "unknown-type"),
        ("""{"type":7}""", "unknown-type"),
        ("""{"type":"Teddy"}""", "unknown-type"),
        ("""{"type":"toy"}""", "unknown-type"),
        ("""{"type":"Toy","colour":"red"}""", "invalid-message"),
        ("""{"type":"Toy","sequence":"1"}""", "invalid-message"),
        ("""{"type":"Toy","sequence":1.5}""", "invalid-message"),
        ("""{"type":"Toy","name":null}""", "invalid-message"),
        ("""{"type":"Toy","sentAtUtc":"yesterday"}""", "invalid-message"),
        ("""{"type":"SumRequest","numbers":[1,"2"]}""", "invalid-message"),
        ("""{"type":"raw","base64":"not base64!"}""", "invalid-message"),
        ("""{"type":"raw","base64":"AA==","extra":1}""", "invalid-message"),
        ("""{"type":"raw"}""", "invalid-message"),
        ("""[{"type":"Toy","sequence":1},{"type":"Toy","sequence":"two"}]""", "invalid-message"),
        (new string('[', 100) + new string(']', 100), "malformed-json"),
    ];

    [SkippableFact]
    public async Task Bad_input_gets_400_with_a_problem_and_nothing_reaches_the_ring()
    {
        string ring = CreateRing();
        foreach ((string body, string code) in s_badBodies)
        {
            CurlResponse response = await PostAsync($"/rings/{ring}/messages", body);
            Assert.True(response.Status == 400 && response.ProblemCode() == code, $"Body {body}: expected 400 {code}, got:\n{response}");
            Assert.Equal(400, response.Json.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(response.Json.GetProperty("detail").GetString()));
            if (code == "unknown-type")
            {
                Assert.Contains("TextMessage", response.Json.GetProperty("knownTypes").EnumerateArray().Select(t => t.GetString()));
            }
        }

        // Nothing reached the ring, and the gateway is up and takes a good message after all that.
        Assert.Equal(0, RingBuffer.Inspect(ring).WritePosition);
        AssertStatus(200, await GatewayClients.CurlAsync("GET", Http("/health")));
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"Toy","sequence":1}"""));
    }

    [SkippableFact]
    public async Task A_batch_with_one_bad_message_writes_none_of_it()
    {
        string ring = CreateRing();
        CurlResponse response = await PostAsync($"/rings/{ring}/messages",
            """[{"type":"TextMessage","message":"fine"},{"type":"TextMessage","message":"fine too"},{"type":"TextMessage","mesage":"typo"}]""");
        AssertStatus(400, response);
        Assert.Contains("Message 2 of the batch", response.Json.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, RingBuffer.Inspect(ring).WritePosition);
    }

    [SkippableFact]
    public async Task Oversize_bodies_and_messages_get_413()
    {
        await RestartAsync(new() { WriteTokenFile = false, Contracts = TestContracts.Demo(), MaxBodyBytes = 64 * 1024 });
        string ring = CreateRing(capacity: 4096);
        string big = $$"""{"type":"TextMessage","message":"{{new string('x', 100 * 1024)}}"}""";

        CurlResponse withLength = await PostAsync($"/rings/{ring}/messages", big);
        AssertStatus(413, withLength);
        Assert.Equal("body-too-large", withLength.ProblemCode());

        CurlResponse chunked = await PostAsync($"/rings/{ring}/messages", big, "--header", "Transfer-Encoding: chunked");
        AssertStatus(413, chunked);

        // Within the body limit, but larger than the ring takes per message (capacity / 2 - 8).
        CurlResponse tooLargeForRing = await PostAsync($"/rings/{ring}/messages", $$"""{"type":"TextMessage","message":"{{new string('y', 3000)}}"}""");
        AssertStatus(413, tooLargeForRing);
        Assert.Equal("message-too-large", tooLargeForRing.ProblemCode());

        Assert.Equal(0, RingBuffer.Inspect(ring).WritePosition);
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"TextMessage","message":"still up"}"""));
    }

    [SkippableFact]
    public async Task A_body_that_is_not_json_gets_415()
    {
        string ring = CreateRing();
        CurlResponse response = await GatewayClients.CurlAsync("POST", Http($"/rings/{ring}/messages"), Token, """{"type":"raw","base64":""}""", "text/plain");
        AssertStatus(415, response);
        Assert.Equal("unsupported-media-type", response.ProblemCode());
    }

    [SkippableFact]
    public async Task A_role_held_by_another_process_gets_409_and_the_gateway_can_release_its_own()
    {
        string ring = CreateRing();
        ChildProcess writerHolder = await StartChildAsync("ring-attach", ring, "writer");
        CurlResponse post = await PostAsync($"/rings/{ring}/messages", """{"type":"TextMessage","message":"x"}""");
        AssertStatus(409, post);
        Assert.Equal("role-taken", post.ProblemCode());
        Assert.Contains("writer", post.Json.GetProperty("detail").GetString(), StringComparison.Ordinal);
        writerHolder.Input.Close();
        await writerHolder.AssertExitCodeAsync(0);

        ChildProcess readerHolder = await StartChildAsync("ring-attach", ring, "reader");
        CurlResponse get = await GetAsync($"/rings/{ring}/messages");
        AssertStatus(409, get);
        Assert.Equal("role-taken", get.ProblemCode());
        readerHolder.Input.Close();
        await readerHolder.AssertExitCodeAsync(0);

        // The gateway keeps the roles it takes, until a client releases them: then another process can take them.
        AssertStatus(202, await PostAsync($"/rings/{ring}/messages", """{"type":"TextMessage","message":"x"}"""));
        AssertStatus(200, await GetAsync($"/rings/{ring}/messages"));
        Assert.True(RingBuffer.Inspect(ring).WriterAlive);
        AssertStatus(204, await DeleteAsync($"/rings/{ring}/writer"));
        AssertStatus(204, await DeleteAsync($"/rings/{ring}/reader"));
        Assert.Equal("not-held", (await DeleteAsync($"/rings/{ring}/writer")).ProblemCode());
        using RingWriter writer = RingWriter.Attach(ring);
        using RingReader reader = RingReader.Attach(ring);
    }

    [SkippableFact]
    public async Task A_missing_ring_gets_404_and_a_bad_name_400()
    {
        CurlResponse missing = await PostAsync($"/rings/{UniqueName.Next("none")}/messages", """{"type":"TextMessage","message":"x"}""");
        AssertStatus(404, missing);
        Assert.Equal("not-found", missing.ProblemCode());

        CurlResponse badName = await GetAsync("/rings/.hidden/messages");
        AssertStatus(400, badName);
        Assert.Equal("invalid-name", badName.ProblemCode());

        CurlResponse badMax = await GetAsync($"/rings/{CreateRing()}/messages?max=0");
        AssertStatus(400, badMax);
        Assert.Equal("invalid-argument", badMax.ProblemCode());
    }

    [SkippableFact]
    public async Task Host_names_other_than_loopback_are_refused()
    {
        // A page from another site that rebinds its DNS name to 127.0.0.1 sends its own Host.
        CurlResponse response = await GatewayClients.CurlAsync("GET", Http("/health"), extra: ["--header", "Host: attacker.example"]);
        AssertStatus(400, response);
        Assert.Equal("host-not-allowed", response.ProblemCode());
        AssertStatus(200, await GatewayClients.CurlAsync("GET", Http("/health"), extra: ["--header", $"Host: localhost:{Http("/").Port}"]));
    }

    [SkippableFact]
    public async Task Contracts_lists_every_type_with_its_id()
    {
        CurlResponse response = await GetAsync("/contracts");
        AssertStatus(200, response);
        var contracts = response.Json.GetProperty("contracts").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal(["SumRequest", "SumResponse", "TextMessage", "Toy"], contracts.Keys.Order());
        Assert.Equal(MessageTypeId.Of<Toy>(), contracts["Toy"].GetProperty("typeId").GetInt32());
        Assert.Equal("IpcKit.Contracts.Toy", contracts["Toy"].GetProperty("fullName").GetString());
        Assert.Equal("SumResponse", contracts["SumRequest"].GetProperty("responseType").GetString());
    }
}
