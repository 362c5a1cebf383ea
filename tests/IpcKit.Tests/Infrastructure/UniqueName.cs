using System.Collections.Concurrent;

namespace IpcKit.Tests;

/// <summary>Per-test names with a random suffix, so tests never share an OS object, even across parallel runs.</summary>
internal static class UniqueName
{
    private static readonly ConcurrentDictionary<string, byte> s_issued = new(StringComparer.Ordinal);

    /// <summary>Every name this test run handed out: the leftover check (Reliability/Leftovers) knows them as its own.</summary>
    public static ICollection<string> Issued => s_issued.Keys;

    public static string Next(string prefix)
    {
        string name = $"t-{prefix}-{Guid.NewGuid().ToString("N")[..12]}";
        s_issued.TryAdd(name, 0);
        return name;
    }
}
