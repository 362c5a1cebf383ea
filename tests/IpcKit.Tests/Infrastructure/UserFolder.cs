namespace IpcKit.Tests;

/// <summary>Clean-up in the per-user folder (pipe sockets, lock files), which its last user removes when it is empty.</summary>
public static class UserFolder
{
    /// <summary>
    /// Deletes a file there if it is there: the folder itself may be gone (a lock's or a pipe server's last user
    /// removed it, empty, while another test was running), where <see cref="File.Delete"/> would throw.
    /// </summary>
    public static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
