namespace IpcKit.Tests;

/// <summary>
/// The two timeouts every test uses. "Expected" is how long a test waits for something that should NOT happen
/// (a wait that must time out); "Unexpected" is the deadline for something that should happen, long enough for
/// a loaded CI machine, so it only expires when there is a bug, and then the test fails instead of hanging.
/// </summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Expected = TimeSpan.FromMilliseconds(300);

    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A token that cancels after <see cref="Unexpected"/>.</summary>
    public static CancellationToken UnexpectedToken() => new CancellationTokenSource(Unexpected).Token;
}
