namespace NormLab.Tests.Support;

/// <summary>
/// A long-running native-memory test: skipped unless NORMLAB_MEMCHECK=1, so a plain <c>dotnet test</c>
/// stays fast; <c>.ci/run</c> runs these as a second step (filter <c>Category=Memory</c>).
/// </summary>
public sealed class MemoryTheoryAttribute : TheoryAttribute
{
    public MemoryTheoryAttribute()
    {
        if (Environment.GetEnvironmentVariable("NORMLAB_MEMCHECK") != "1")
            Skip = "native-memory check: set NORMLAB_MEMCHECK=1 to run (.ci/run does)";
    }
}

/// <summary>The <see cref="FactAttribute"/> counterpart of <see cref="MemoryTheoryAttribute"/>.</summary>
public sealed class MemoryFactAttribute : FactAttribute
{
    public MemoryFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("NORMLAB_MEMCHECK") != "1")
            Skip = "native-memory check: set NORMLAB_MEMCHECK=1 to run (.ci/run does)";
    }
}
