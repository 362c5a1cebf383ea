using System.Text;

namespace IpcKit.Hosting;

/// <summary>
/// Reads a child's output stream to its end and hands over complete lines. Unlike Process.BeginOutputReadLine, a
/// line is cut at <see cref="MaxLineLength"/> characters, so a child writing without newlines cannot make the parent
/// buffer without limit.
/// </summary>
internal static class LinePump
{
    /// <summary>Longer lines are handed over in pieces of this length.</summary>
    internal const int MaxLineLength = 16 * 1024;

    /// <summary>Reads until end-of-file or an I/O error (the pipe broke), calling <paramref name="onLine"/> per line.</summary>
    internal static async Task RunAsync(StreamReader reader, Action<string> onLine)
    {
        var line = new StringBuilder();
        char[] buffer = new char[4096];
        try
        {
            while (true)
            {
                int read = await reader.ReadAsync(buffer.AsMemory()).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                for (int i = 0; i < read; i++)
                {
                    char c = buffer[i];
                    if (c == '\n')
                    {
                        Emit(line, onLine);
                    }
                    else
                    {
                        line.Append(c);
                        if (line.Length >= MaxLineLength)
                        {
                            Emit(line, onLine);
                        }
                    }
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke: treat as end of output.
        }
        catch (ObjectDisposedException)
        {
            // The owner was disposed while the child was still writing.
        }

        if (line.Length > 0)
        {
            Emit(line, onLine);
        }
    }

    private static void Emit(StringBuilder line, Action<string> onLine)
    {
        int length = line.Length > 0 && line[^1] == '\r' ? line.Length - 1 : line.Length;
        string text = line.ToString(0, length);
        line.Clear();
        onLine(text);
    }
}
