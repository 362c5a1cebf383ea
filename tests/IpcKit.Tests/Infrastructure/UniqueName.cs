namespace IpcKit.Tests;

/// <summary>Per-test names with a random suffix, so tests never share an OS object, even across parallel runs.</summary>
internal static class UniqueName
{
    public static string Next(string prefix) => $"t-{prefix}-{Guid.NewGuid().ToString("N")[..12]}";
}
