namespace IpcKit.Tests;

/// <summary>
/// The one name rule every OS object shares (<see cref="IpcName.Validate"/>), at its exact boundaries: the longest
/// name and one more, each allowed punctuation mark in every position it may take, and the first character of each
/// kind the rule refuses. A name is part of a path in /dev/shm or the socket folder, so this rule is what keeps a
/// name from reaching another folder.
/// </summary>
public sealed class IpcNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("A.b_c-d")]
    [InlineData("0_-_.x")]
    [InlineData("name.")]
    [InlineData("name_")]
    [InlineData("name-")]
    [InlineData("_leading")]
    [InlineData("-leading")]
    [InlineData("z9Z0")]
    public void Names_of_the_allowed_characters_pass(string name) => IpcName.Validate(name, 16, "ring");

    [Fact]
    public void The_longest_name_passes_and_one_more_character_is_refused_naming_both_lengths()
    {
        IpcName.Validate(new string('n', 16), 16, "ring");

        var error = Assert.Throws<ArgumentException>(() => IpcName.Validate(new string('n', 17), 16, "ring", "ringName"));
        Assert.Equal("ringName", error.ParamName);
        Assert.Contains("17 characters", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_and_empty_are_refused()
    {
        Assert.Throws<ArgumentNullException>(() => IpcName.Validate(null!, 16, "ring"));
        var error = Assert.Throws<ArgumentException>(() => IpcName.Validate("", 16, "semaphore"));
        Assert.Contains("semaphore name cannot be empty", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".hidden", "starts with '.'")]
    [InlineData("..", "starts with '.'")]
    [InlineData("a/b", "'/' at index 1")]
    [InlineData("../x", "starts with '.'")]
    [InlineData("a\\b", "'\\' at index 1")]
    [InlineData("a\0b", "NUL at index 1")]
    [InlineData("a b", "U+0020 at index 1")]
    [InlineData("tab\t", "U+0009 at index 3")]
    [InlineData("é", "'é' at index 0")]
    [InlineData("ab\u00B2", "'\u00B2' at index 2")]
    [InlineData("x:y", "':' at index 1")]
    [InlineData("x*", "'*' at index 1")]
    [InlineData("\u0661", "'\u0661' at index 0")]
    public void A_character_outside_the_rule_is_refused_with_its_position(string name, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => IpcName.Validate(name, 16, "pipe"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal("name", error.ParamName);
    }

    [Fact]
    public void A_control_character_is_shown_escaped_not_raw()
    {
        var error = Assert.Throws<ArgumentException>(() => IpcName.Validate("a\u001bb", 16, "pipe"));
        Assert.Contains("'a\\u001bb'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', error.Message);
    }

    [SkippableFact]
    public void Each_kind_of_object_has_its_linux_path_and_length_limit_and_every_path_getter_checks_the_name()
    {
        Requires.Platform(OperatingSystem.IsLinux(), "The paths and limits asserted are Linux's.");
        Assert.Equal(241, IpcName.MaxRingNameLength);
        Assert.Equal(239, IpcName.MaxSemaphoreNameLength);
        Assert.Equal(249, IpcName.MaxLockNameLength);
        Assert.Equal("/dev/shm/ipckit.ring.jobs", IpcName.GetRingPath("jobs"));
        Assert.Equal("/dev/shm/sem.ipckit.jobs", IpcName.GetSemaphorePath("jobs"));
        Assert.Equal("/ipckit.jobs", IpcName.GetSemaphoreOsName("jobs"));
        Assert.Equal(Path.Combine(IpcKit.Pipes.PipeEndpoint.SocketFolder(), "jobs.nlock"), IpcName.GetLockPath("jobs"));
        Assert.Equal(Path.Combine(IpcKit.Pipes.PipeEndpoint.SocketFolder(), "jobs.sock"), IpcName.GetPipePath("jobs"));

        (Func<string, string?> Get, int Max)[] getters =
        [
            (IpcName.GetRingPath, IpcName.MaxRingNameLength),
            (IpcName.GetSemaphorePath, IpcName.MaxSemaphoreNameLength),
            (IpcName.GetSemaphoreOsName, IpcName.MaxSemaphoreNameLength),
            (IpcName.GetLockPath, IpcName.MaxLockNameLength),
        ];
        foreach ((Func<string, string?> get, int max) in getters)
        {
            Assert.NotNull(get(new string('a', max)));
            Assert.Throws<ArgumentException>(() => get(new string('a', max + 1)));
            Assert.Throws<ArgumentException>(() => get("../escape"));
            Assert.Throws<ArgumentException>(() => get("a/b"));
        }
    }
}
