using System.Text;
using IpcKit.Hosting;

namespace IpcKit.Tests.Hosting;

/// <summary>The small internal pieces of hosting, in process: the dotnet host choice, the stderr tail, the line pump.</summary>
public sealed class HostingHelperTests
{
    [Fact]
    public void A_parent_running_under_dotnet_starts_dll_children_with_the_same_dotnet()
    {
        string dotnet = OperatingSystem.IsWindows() ? @"C:\sdk\dotnet.exe" : "/opt/sdk/dotnet";

        Assert.Equal(dotnet, DotNetHost.Resolve(dotnet, hostPathVariable: null));
    }

    [Fact]
    public void A_parent_started_through_its_apphost_uses_DOTNET_HOST_PATH_when_it_exists_else_dotnet_on_the_PATH()
    {
        using var temp = new TempDirectory();
        string host = temp.File("dotnet-host");
        File.WriteAllText(host, "");
        string expectedDefault = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";

        Assert.Equal(host, DotNetHost.Resolve("/apps/MyApp", host));
        Assert.Equal(expectedDefault, DotNetHost.Resolve("/apps/MyApp", temp.File("missing")));
        Assert.Equal(expectedDefault, DotNetHost.Resolve(processPath: null, hostPathVariable: null));
    }

    [Fact]
    public unsafe void The_job_limit_structure_has_the_size_Windows_expects()
    {
        // JOBOBJECT_EXTENDED_LIMIT_INFORMATION: 144 bytes on 64-bit Windows, 112 on 32-bit; a wrong layout would make
        // SetInformationJobObject fail and the kill-on-close job silently unused.
        Assert.Equal(IntPtr.Size == 8 ? 144 : 112, sizeof(Interop.Kernel32.JobObjectExtendedLimitInformation));
    }

    [Fact]
    public void The_stderr_tail_keeps_the_most_recent_characters_and_says_how_many_it_dropped()
    {
        var tail = new TextTail(capacity: 10);
        for (int i = 0; i < 100; i++)
        {
            tail.AppendLine($"line {i}");
        }

        string kept = tail.ToString();
        Assert.EndsWith("line 99\n", kept, StringComparison.Ordinal);
        string[] parts = kept.Split('\n', 2);
        Assert.Matches(@"^\[\d+ earlier characters not shown\]$", parts[0]);
        Assert.Equal(10, parts[1].Length);
        Assert.Equal("99\n", tail.GetTail(3).Split('\n', 2)[1]);
    }

    [Fact]
    public void The_stderr_tail_shows_short_output_unchanged()
    {
        var tail = new TextTail(capacity: 100);
        tail.AppendLine("one");
        tail.AppendLine("two");

        Assert.Equal("one\ntwo\n", tail.ToString());
    }

    [Fact]
    public async Task The_line_pump_splits_lines_strips_CR_and_cuts_a_line_without_end()
    {
        string huge = new('x', LinePump.MaxLineLength + 10);
        string text = $"first\r\nsecond\n\n{huge}\nlast without newline";
        var lines = new List<string>();
        using var reader = new StreamReader(new MemoryStream(Encoding.UTF8.GetBytes(text)));

        await LinePump.RunAsync(reader, lines.Add);

        Assert.Equal(["first", "second", "", new string('x', LinePump.MaxLineLength), "xxxxxxxxxx", "last without newline"], lines);
    }
}
