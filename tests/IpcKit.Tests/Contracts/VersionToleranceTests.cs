using IpcKit.Contracts;
using IpcKit.Serialization;
using MessagePack;

namespace IpcKit.Tests.Contracts;

/// <summary>
/// Contracts evolve by adding keys at the end: a reader built against an older contract skips keys it does not know,
/// and a newer reader gets defaults for keys an older writer did not send. Each pair of types below stands for two
/// builds of the same contract.
/// </summary>
public sealed class VersionToleranceTests
{
    private static readonly DateTime s_sentAt = new(2025, 6, 1, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void An_old_reader_ignores_a_field_added_later()
    {
        byte[] v2 = MessagePackSerializer.Serialize(
            new ToyV2 { Sequence = 9, Name = "yo-yo", Sender = "new build", SentAtUtc = s_sentAt, Color = "red" }, IpcSerializer.Options);

        ToyV1 old = MessagePackSerializer.Deserialize<ToyV1>(v2, IpcSerializer.Options);

        Assert.Equal(9, old.Sequence);
        Assert.Equal("yo-yo", old.Name);
        Assert.Equal("new build", old.Sender);
        Assert.Equal(s_sentAt, old.SentAtUtc);
    }

    [Fact]
    public void A_new_reader_gets_defaults_for_a_field_an_old_writer_did_not_send()
    {
        byte[] v1 = MessagePackSerializer.Serialize(
            new ToyV1 { Sequence = 4, Name = "kite", Sender = "old build", SentAtUtc = s_sentAt }, IpcSerializer.Options);

        ToyV2 current = MessagePackSerializer.Deserialize<ToyV2>(v1, IpcSerializer.Options);

        Assert.Equal(4, current.Sequence);
        Assert.Equal("kite", current.Name);
        Assert.Equal("old build", current.Sender);
        Assert.Equal(s_sentAt, current.SentAtUtc);
        Assert.Equal("none", current.Color);
    }

    [Fact]
    public void The_shipped_Toy_reads_bytes_from_a_newer_build_and_a_newer_build_reads_the_shipped_Toy()
    {
        byte[] newer = MessagePackSerializer.Serialize(
            new ToyV2 { Sequence = 1, Name = "ball", Sender = "v2", SentAtUtc = s_sentAt, Color = "blue" }, IpcSerializer.Options);
        Toy shipped = MessagePackSerializer.Deserialize<Toy>(newer, IpcSerializer.Options);
        Assert.Equal(("ball", "v2", s_sentAt), (shipped.Name, shipped.Sender, shipped.SentAtUtc));

        byte[] older = MessagePackSerializer.Serialize(shipped, IpcSerializer.Options);
        ToyV2 back = MessagePackSerializer.Deserialize<ToyV2>(older, IpcSerializer.Options);
        Assert.Equal(("ball", "none"), (back.Name, back.Color));
    }

    [Fact]
    public void An_old_union_reader_skips_a_field_added_later_inside_a_case()
    {
        // The union wraps the body; the old reader's skipping works the same inside it.
        byte[] body = MessagePackSerializer.Serialize(
            new ToyV2 { Sequence = 2, Name = "top", Sender = "v2", SentAtUtc = s_sentAt, Color = "green" }, IpcSerializer.Options);
        byte[] union = [0x92, 0x00, .. body];

        IDemoMessage message = MessagePackSerializer.Deserialize<IDemoMessage>(union, IpcSerializer.Options);

        Toy toy = Assert.IsType<Toy>(message);
        Assert.Equal(("top", 2L), (toy.Name, toy.Sequence));
    }

    /// <summary>The contract as first shipped: keys 0-3 (the same shape as <see cref="Toy"/>).</summary>
    [MessagePackObject]
    public sealed class ToyV1
    {
        [Key(0)]
        public long Sequence { get; set; }

        [Key(1)]
        public string Name { get; set; } = "";

        [Key(2)]
        public string Sender { get; set; } = "";

        [Key(3)]
        public DateTime SentAtUtc { get; set; }
    }

    /// <summary>A later build: key 4 added, with a default for messages from older writers.</summary>
    [MessagePackObject]
    public sealed class ToyV2
    {
        [Key(0)]
        public long Sequence { get; set; }

        [Key(1)]
        public string Name { get; set; } = "";

        [Key(2)]
        public string Sender { get; set; } = "";

        [Key(3)]
        public DateTime SentAtUtc { get; set; }

        [Key(4)]
        public string Color { get; set; } = "none";
    }
}
