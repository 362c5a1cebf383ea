using System.Text;

namespace IpcKit.Hosting;

/// <summary>
/// The last <c>capacity</c> characters of a text stream (a child's stderr): bounded memory however much the child
/// writes, and a note saying how much was dropped. Thread-safe.
/// </summary>
internal sealed class TextTail
{
    private readonly Lock _gate = new();
    private readonly StringBuilder _text = new();
    private readonly int _capacity;
    private long _dropped;

    internal TextTail(int capacity)
    {
        _capacity = capacity;
    }

    /// <summary>Appends a line and its newline.</summary>
    internal void AppendLine(string line)
    {
        lock (_gate)
        {
            _text.Append(line).Append('\n');

            // Trim only when twice over, so appending stays amortized O(1) instead of moving the buffer every line.
            if (_text.Length > 2 * _capacity)
            {
                int excess = _text.Length - _capacity;
                _text.Remove(0, excess);
                _dropped += excess;
            }
        }
    }

    /// <summary>At most the last <paramref name="maxCharacters"/> characters kept, with a note when some were dropped.</summary>
    internal string GetTail(int maxCharacters)
    {
        lock (_gate)
        {
            int keep = Math.Min(Math.Min(_text.Length, _capacity), maxCharacters);
            long dropped = _dropped + (_text.Length - keep);
            string tail = _text.ToString(_text.Length - keep, keep);
            return dropped == 0 ? tail : $"[{dropped} earlier characters not shown]\n{tail}";
        }
    }

    /// <summary>Everything kept (at most the capacity), with a note when some was dropped.</summary>
    public override string ToString() => GetTail(_capacity);
}
