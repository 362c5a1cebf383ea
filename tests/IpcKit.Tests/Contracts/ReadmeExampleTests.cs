using IpcKit.Serialization;
using MessagePack;
using Orders.Contracts;

namespace IpcKit.Tests.Contracts;

/// <summary>
/// The README's first example is a user's own contracts in the user's own assembly (here the test assembly, not
/// IpcKit.Contracts): it compiles (Readme/OrderContracts.cs), it works, and the README shows exactly that code.
/// </summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void The_README_shows_the_compiled_example_verbatim()
    {
        string source = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "readme", "OrderContracts.cs")).ReplaceLineEndings("\n");
        string example = Between(source, "// README begin\n", "// README end\n");
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "readme", "README.md")).ReplaceLineEndings("\n");
        string section = Between(readme, "### Your own messages\n", "\n### ");

        Assert.Contains("```csharp\n" + example + "```\n", section, StringComparison.Ordinal);
        Assert.True(readme.IndexOf("### Your own messages", StringComparison.Ordinal) < readme.IndexOf("### Ring", StringComparison.Ordinal), "Your own messages come first among the examples.");
    }

    [Fact]
    public void The_example_sends_and_dispatches_its_own_contracts()
    {
        var placed = new IpcMessage(MessageTypeId.Of<OrderPlaced>(), MessagePackSerializer.Serialize(new OrderPlaced { OrderId = 7, Customer = "Ada", Total = 12.5m }, IpcSerializer.Options));
        var cancelled = new IpcMessage(MessageTypeId.Of<OrderCancelled>(), MessagePackSerializer.Serialize(new OrderCancelled { OrderId = 7 }, IpcSerializer.Options));

        Assert.Equal("order 7 placed by Ada", OrderEvents.Handle(placed));
        Assert.Equal("order 7 cancelled", OrderEvents.Handle(cancelled));
        Assert.Equal("not for us: raw bytes (0x00000000), 3 bytes", OrderEvents.Handle(new IpcMessage(0, new byte[3])));
    }

    private static string Between(string text, string start, string end)
    {
        int from = text.IndexOf(start, StringComparison.Ordinal);
        Assert.True(from >= 0, $"'{start.Trim()}' not found.");
        from += start.Length;
        int to = text.IndexOf(end, from, StringComparison.Ordinal);
        return to < 0 ? text[from..] : text[from..to];
    }
}
