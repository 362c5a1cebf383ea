using IpcKit.Contracts;
using IpcKit.Diagnostics;
using IpcKit.Gateway;

namespace IpcKit.Tests.Gateway;

/// <summary>REST against a real pipe server in a child process, with curl as the client.</summary>
public sealed class GatewayPipeRestTests : GatewayTestBase
{
    /// <summary>The test service answers TextMessage requests with a TextMessage (commands such as "echo:T" and "stats").</summary>
    protected override GatewayOptions CreateOptions() => new()
    {
        WriteTokenFile = false,
        Contracts = new ContractRegistry().Add<Toy>().AddRequest<TextMessage, TextMessage>().AddRequest<SumRequest, SumResponse>(),
    };

    [SkippableFact]
    public async Task Posted_messages_reach_the_pipe_server_in_order()
    {
        string pipe = UniqueName.Next("gwp");
        ChildProcess server = await StartPipeServerAsync(pipe);

        CurlResponse one = await PostAsync($"/pipes/{pipe}/messages", """{"type":"TextMessage","message":"hello","from":"curl","to":"server"}""");
        AssertStatus(202, one);
        Assert.Equal(pipe, one.Json.GetProperty("pipe").GetString());
        Assert.Equal("MESSAGE TEXT hello|curl|server", await server.WaitForLineAsync("MESSAGE"));

        AssertStatus(202, await PostAsync($"/pipes/{pipe}/messages", """[{"type":"Toy","sequence":1,"name":"a"},{"type":"Toy","sequence":2,"name":"b"},{"type":"TextMessage","message":"c"}]"""));
        Assert.Equal("MESSAGE TOY 1 a", await server.WaitForLineAsync("MESSAGE"));
        Assert.Equal("MESSAGE TOY 2 b", await server.WaitForLineAsync("MESSAGE"));
        Assert.Equal("MESSAGE TEXT c||", await server.WaitForLineAsync("MESSAGE"));

        // Raw messages: the server counts them per connection; a request on the same connection reads the count back.
        AssertStatus(202, await PostAsync($"/pipes/{pipe}/messages", """[{"type":"raw","base64":"AQID"},{"type":"raw","base64":"BAU="}]"""));
        var hash = new Fnv1a64();
        hash.Append([1, 2, 3]);
        hash.Append([4, 5]);
        CurlResponse stats = await PostAsync($"/pipes/{pipe}/requests", """{"type":"TextMessage","message":"stats"}""");
        AssertStatus(200, stats);
        Assert.Equal($"count=2 bytes=5 fnv1a64={hash}", stats.Json.GetProperty("message").GetString());
    }

    [SkippableFact]
    public async Task A_request_returns_the_servers_answer_as_json()
    {
        string pipe = UniqueName.Next("gwp");
        ChildProcess server = await StartPipeServerAsync(pipe);

        CurlResponse sum = await PostAsync($"/pipes/{pipe}/requests", """{"type":"SumRequest","numbers":[1,2,39]}""");
        AssertStatus(200, sum);
        Assert.Equal("SumResponse", sum.Json.GetProperty("type").GetString());
        Assert.Equal(42, sum.Json.GetProperty("sum").GetInt64());
        Assert.Equal(3, sum.Json.GetProperty("count").GetInt32());
        Assert.Equal(server.Id, sum.Json.GetProperty("processId").GetInt32());

        CurlResponse echo = await PostAsync($"/pipes/{pipe}/requests", """{"type":"raw","base64":"aGVsbG8="}""");
        AssertStatus(200, echo);
        Assert.Equal("""{"type":"raw","base64":"aGVsbG8="}""", echo.Body);

        CurlResponse toy = await PostAsync($"/pipes/{pipe}/requests", """{"type":"Toy","sequence":1}""");
        AssertStatus(400, toy);
        Assert.Equal("not-a-request", toy.ProblemCode());
    }

    [SkippableFact]
    public async Task Server_failures_and_timeouts_become_problems()
    {
        string pipe = UniqueName.Next("gwp");
        await StartPipeServerAsync(pipe);

        CurlResponse thrown = await PostAsync($"/pipes/{pipe}/requests", """{"type":"TextMessage","message":"throw:out of paper"}""");
        AssertStatus(502, thrown);
        Assert.Equal("remote-error", thrown.ProblemCode());
        Assert.Equal("System.InvalidOperationException", thrown.Json.GetProperty("remoteType").GetString());
        Assert.Equal("out of paper", thrown.Json.GetProperty("remoteMessage").GetString());

        CurlResponse late = await PostAsync($"/pipes/{pipe}/requests?timeout=200", """{"type":"TextMessage","message":"wait:never"}""");
        AssertStatus(504, late);
        Assert.Equal("timeout", late.ProblemCode());

        CurlResponse echo = await PostAsync($"/pipes/{pipe}/requests", """{"type":"TextMessage","message":"echo:still fine"}""");
        AssertStatus(200, echo);
        Assert.Equal("still fine", echo.Json.GetProperty("message").GetString());
    }

    [SkippableFact]
    public async Task No_server_gets_503_and_a_server_that_comes_later_is_used()
    {
        string pipe = UniqueName.Next("gwp");
        CurlResponse none = await PostAsync($"/pipes/{pipe}/messages", """{"type":"TextMessage","message":"anyone?"}""");
        AssertStatus(503, none);
        Assert.Equal("no-server", none.ProblemCode());
        Assert.Equal("1", none.Header("Retry-After"));

        ChildProcess server = await StartPipeServerAsync(pipe);
        AssertStatus(202, await PostAsync($"/pipes/{pipe}/messages", """{"type":"TextMessage","message":"there you are"}"""));
        Assert.Equal("MESSAGE TEXT there you are||", await server.WaitForLineAsync("MESSAGE"));

        // The server goes away and another takes the name: the gateway connects to the new one.
        server.Input.WriteLine("stop");
        server.Input.Flush();
        await server.AssertExitCodeAsync(0);
        ChildProcess next = await StartPipeServerAsync(pipe);
        CurlResponse sum = await PostAsync($"/pipes/{pipe}/requests", """{"type":"SumRequest","numbers":[5]}""");
        AssertStatus(200, sum);
        Assert.Equal(next.Id, sum.Json.GetProperty("processId").GetInt32());

        AssertStatus(204, await DeleteAsync($"/pipes/{pipe}/connection"));
        Assert.Equal("not-connected", (await DeleteAsync($"/pipes/{pipe}/connection")).ProblemCode());
        Assert.Equal("invalid-name", (await DeleteAsync("/pipes/a%20b/connection")).ProblemCode());
    }
}
