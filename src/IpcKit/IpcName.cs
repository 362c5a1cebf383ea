namespace IpcKit;

/// <summary>
/// IpcKit object names and where their OS objects live: one place for every kind (one partial file per kind).
/// The name rule is shared by semaphores, locks, rings and pipes: 1 or more characters from A-Z, a-z, 0-9, '.', '_'
/// and '-', not starting with '.', and short enough for the OS object that carries it. The rule is stricter than
/// Linux needs so that a name valid on one OS is valid on all of them.
/// </summary>
public static partial class IpcName
{
    /// <summary>The prefix of every OS object IpcKit creates, so they are easy to find (ls /dev/shm | grep ipckit).</summary>
    public const string Prefix = "ipckit.";

    /// <summary>The name rule, as error messages state it.</summary>
    public const string Rule = "1 or more of A-Z a-z 0-9 . _ -, not starting with '.'";

    /// <summary>Throws <see cref="ArgumentException"/> stating the rule when <paramref name="name"/> breaks it.</summary>
    /// <param name="name">The name to check.</param>
    /// <param name="maxLength">The longest name the OS object allows, after IpcKit's prefixes.</param>
    /// <param name="kind">What is being named, for the message ("semaphore", "ring", "pipe").</param>
    /// <param name="paramName">The caller's parameter name.</param>
    internal static void Validate(string name, int maxLength, string kind, string paramName = "name")
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (name.Length == 0)
        {
            throw new ArgumentException($"A {kind} name cannot be empty; use {Rule}.", paramName);
        }

        if (name.Length > maxLength)
        {
            throw new ArgumentException(
                $"The {kind} name '{name}' is {name.Length} characters long; on this OS it can have at most {maxLength}.", paramName);
        }

        if (name[0] == '.')
        {
            throw new ArgumentException($"The {kind} name '{name}' starts with '.'; use {Rule}.", paramName);
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-'))
            {
                string shown = c switch
                {
                    '\0' => "NUL",
                    '/' => "'/'",
                    '\\' => "'\\'",
                    _ when char.IsControl(c) || char.IsWhiteSpace(c) => $"U+{(int)c:X4}",
                    _ => $"'{c}'",
                };
                throw new ArgumentException(
                    $"The {kind} name '{Printable(name)}' contains {shown} at index {i}; a name may contain only {Rule}.", paramName);
            }
        }
    }

    private static string Printable(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length);
        foreach (char c in name)
        {
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return builder.ToString();
    }
}
