using IpcKit.Contracts;
using IpcKit.Serialization;

namespace IpcKit.Tests.Contracts;

/// <summary>
/// Type ids travel on the ring and the pipe, so they are a wire format: pinned here. The expected values were
/// computed once, independently of IpcKit (FNV-1a-32 of the UTF-8 full name, in a few lines of Python), and must
/// never change; a failure means a contract was renamed or moved, which breaks every peer built before.
/// </summary>
public sealed class MessageTypeIdTests
{
    public static TheoryData<Type, int> PinnedIds => new()
    {
        { typeof(Toy), 1856520308 },
        { typeof(TextMessage), 1728233298 },
        { typeof(SumRequest), 1236922720 },
        { typeof(SumResponse), -71537940 },
        { typeof(IDemoMessage), -920761069 },
    };

    [Theory]
    [MemberData(nameof(PinnedIds))]
    public void Contract_type_ids_are_pinned(Type type, int expected)
    {
        Assert.Equal(expected, MessageTypeId.Of(type));
        Assert.Equal(expected, MessageTypeId.Of(type.FullName!));
    }

    [Fact]
    public void The_generic_form_gives_the_same_pinned_ids()
    {
        Assert.Equal(1856520308, MessageTypeId.Of<Toy>());
        Assert.Equal(1728233298, MessageTypeId.Of<TextMessage>());
        Assert.Equal(1236922720, MessageTypeId.Of<SumRequest>());
        Assert.Equal(-71537940, MessageTypeId.Of<SumResponse>());
        Assert.Equal(-920761069, MessageTypeId.Of<IDemoMessage>());
    }

    [Fact]
    public void Contract_ids_are_distinct_and_never_the_untyped_id()
    {
        int[] ids = [.. PinnedIds.Select(row => (int)row[1])];

        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.DoesNotContain(MessageTypeId.Untyped, ids);
    }
}
