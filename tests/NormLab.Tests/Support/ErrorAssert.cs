namespace NormLab.Tests.Support;

/// <summary>Checks on error messages.</summary>
public static class ErrorAssert
{
    /// <summary>Asserts the message is one line and contains every fragment.</summary>
    public static void OneLine(Exception e, params string[] fragments)
    {
        Assert.DoesNotContain('\n', e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }
}
