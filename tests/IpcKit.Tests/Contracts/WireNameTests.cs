using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Contracts;

/// <summary>
/// [IpcMessage("...")] gives a contract a wire identity of its own: the id is the hash of that name (pinned here from
/// an independent computation), whatever the class is called or wherever it lives; two types can never share an id.
/// </summary>
public sealed class WireNameTests
{
    [Fact]
    public void The_id_is_the_hash_of_the_wire_name_not_of_the_class_name()
    {
        // FNV-1a-32 of "orders.placed.v1", computed outside IpcKit.
        Assert.Equal(0x016d3ef2, MessageTypeId.Of<Orders.Contracts.OrderPlaced>());
        Assert.Equal(0x016d3ef2, MessageTypeId.Of("orders.placed.v1"));
        Assert.Equal("orders.placed.v1", MessageTypeId.WireName(typeof(Orders.Contracts.OrderPlaced)));
        Assert.Equal(typeof(Unnamed).FullName, MessageTypeId.WireName(typeof(Unnamed)));
        Assert.Equal(MessageTypeId.Of(typeof(Unnamed).FullName!), MessageTypeId.Of<Unnamed>());
    }

    [Fact]
    public void A_renamed_class_keeps_its_id()
    {
        // Two builds of one contract: the old class name and the new, both with the same wire name, as a sender and
        // a receiver built before and after the rename would have them.
        Assert.Equal(MessageTypeId.Of("quotes.answered.v1"), MessageTypeId.Of("quotes.answered.v1"));
        Assert.Equal(unchecked((int)0x9bedf200), MessageTypeId.Of<QuoteAnswered>());
        Assert.NotEqual(MessageTypeId.Of(typeof(QuoteAnswered).FullName!), MessageTypeId.Of<QuoteAnswered>());
    }

    [Fact]
    public void An_attribute_of_the_same_name_from_a_contracts_assembly_without_IpcKit_counts()
    {
        Assert.Equal(MessageTypeId.Of("quotes.requested.v1"), MessageTypeId.Of<DeclaredElsewhere>());
    }

    [Fact]
    public void Two_types_with_one_wire_name_are_refused_naming_both()
    {
        int first = MessageTypeId.Of<Original>();

        var error = Assert.Throws<InvalidOperationException>(() => MessageTypeId.Of<CopiedByMistake>());

        Assert.Equal(MessageTypeId.Of("tests.duplicate.v1"), first);
        Assert.Contains(nameof(Original), error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(CopiedByMistake), error.Message, StringComparison.Ordinal);
        Assert.Contains("tests.duplicate.v1", error.Message, StringComparison.Ordinal);

        // Asked again, the same answer (not a TypeInitializationException), and the first keeps its id.
        Assert.Throws<InvalidOperationException>(() => MessageTypeId.Of<CopiedByMistake>());
        Assert.Equal(first, MessageTypeId.Of<Original>());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("tab\t")]
    [InlineData("é")]
    public void A_wire_name_outside_printable_ASCII_is_refused(string name) =>
        Assert.Throws<ArgumentException>(() => new IpcMessageAttribute(name));

    [Fact]
    public void A_wire_name_may_be_200_characters_not_201()
    {
        _ = new IpcMessageAttribute(new string('a', MessageTypeId.MaxWireNameLength));
        Assert.Throws<ArgumentException>(() => new IpcMessageAttribute(new string('a', MessageTypeId.MaxWireNameLength + 1)));
    }

    [MessagePackObject]
    public sealed class Unnamed
    {
        [Key(0)]
        public int Value { get; set; }
    }

    [MessagePackObject]
    [IpcMessage("quotes.answered.v1")]
    public sealed class QuoteAnswered
    {
        [Key(0)]
        public decimal Price { get; set; }
    }

    [MessagePackObject]
    [ElsewhereAttributes.IpcMessage("quotes.requested.v1")]
    public sealed class DeclaredElsewhere
    {
        [Key(0)]
        public string Sku { get; set; } = "";
    }

    [MessagePackObject]
    [IpcMessage("tests.duplicate.v1")]
    public sealed class Original;

    [MessagePackObject]
    [IpcMessage("tests.duplicate.v1")]
    public sealed class CopiedByMistake;
}
