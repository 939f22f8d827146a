using System.Text.Json;
using NormLab.Cli.Commands;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary>
/// Native memory stays flat: <c>normlab memcheck</c> in a child process, one normalizer of the study at a
/// time, must grow the resident memory by less than 50 MB between the warm-up and the end. Skipped unless
/// NORMLAB_MEMCHECK=1; NORMLAB_MEMCHECK_STEPS and NORMLAB_MEMCHECK_HVP set the lengths (default 3000 steps, 1000 products).
/// </summary>
[Trait("Category", "Memory")]
public class MemcheckTests
{
    public static TheoryData<string> Norms()
    {
        var data = new TheoryData<string>();
        foreach (var spec in MemcheckCommand.DefaultNorms) data.Add(spec);
        return data;
    }

    [MemoryTheory]
    [MemberData(nameof(Norms))]
    public void TrainingStepsKeepResidentMemoryFlat(string norm) =>
        AssertFlat(norm, "--steps", Length("NORMLAB_MEMCHECK_STEPS", "3000"), "--hvp", "0", "--norms", norm);

    [MemoryFact]
    public void HessianVectorProductsKeepResidentMemoryFlat() =>
        AssertFlat("hvp(cnn,bn)", "--steps", "10", "--norms", "none", "--hvp", Length("NORMLAB_MEMCHECK_HVP", "1000"));

    private static string Length(string variable, string fallback) => Environment.GetEnvironmentVariable(variable) ?? fallback;

    private static void AssertFlat(string caseName, params string[] args)
    {
        using var dir = new CliRunner.TempDir();
        string json = dir["memcheck.json"];
        var r = CliRunner.RunProcess(null, TimeSpan.FromMinutes(9), new[] { "memcheck" }.Concat(args).Concat(new[] { "--json", json }).ToArray());
        Assert.True(File.Exists(json), $"memcheck wrote no report (exit {r.ExitCode})\nstdout: {r.Out}\nstderr: {r.Err}");
        using var report = JsonDocument.Parse(File.ReadAllText(json));
        var row = report.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == caseName);
        double growth = row.GetProperty("growth_mb").GetDouble();
        Assert.True(growth < MemcheckCommand.LimitMb, $"{caseName}: resident memory grew by {growth:F1} MB (limit {MemcheckCommand.LimitMb} MB)\n{r.Out}");
        Assert.Equal(0, r.ExitCode);
    }
}
