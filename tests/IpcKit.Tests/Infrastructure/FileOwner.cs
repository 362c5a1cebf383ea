using System.Globalization;

namespace IpcKit.Tests;

/// <summary>Gives a file or folder to another user, the way another local account's object would be found (needs root, as in CI).</summary>
public static class FileOwner
{
    /// <summary>chown -h: a symlink itself, not its target.</summary>
    public static void Chown(string path, int uid)
    {
        using var chown = System.Diagnostics.Process.Start("chown", ["-h", uid.ToString(CultureInfo.InvariantCulture), path])!;
        Assert.True(chown.WaitForExit(TestTimeouts.Unexpected));
        Assert.Equal(0, chown.ExitCode);
    }
}
