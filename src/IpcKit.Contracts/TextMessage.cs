using MessagePack;

namespace IpcKit.Contracts;

/// <summary>A line of text from one party to another.</summary>
[MessagePackObject]
public sealed class TextMessage : IDemoMessage
{
    /// <summary>The text.</summary>
    [Key(0)]
    public string Message { get; set; } = "";

    /// <summary>The sender.</summary>
    [Key(1)]
    public string From { get; set; } = "";

    /// <summary>The addressee.</summary>
    [Key(2)]
    public string To { get; set; } = "";
}
