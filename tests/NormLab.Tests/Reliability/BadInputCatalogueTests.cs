using System.Text.Json;
using NormLab.Cli.Catalogue;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Reliability;

/// <summary>
/// The bad-input catalogue (docs/RELIABILITY.md) over every registry entry, run as <c>normlab catalogue</c>
/// in a child process so that a LibTorch abort fails this test instead of killing the test host.
/// </summary>
public class BadInputCatalogueTests
{
    [Fact]
    public void Every_registry_entry_shows_its_documented_behaviour_in_every_case()
    {
        using var dir = new CliRunner.TempDir();
        var r = CliRunner.RunProcess(null, TimeSpan.FromMinutes(5), "catalogue", "--json", dir["catalogue.json"]);
        Assert.True(r.ExitCode is 0 or 1, $"normlab catalogue died with exit code {r.ExitCode} (an abort?): {r.Err}{r.Out}");

        var results = JsonSerializer.Deserialize<List<CaseResult>>(File.ReadAllText(dir["catalogue.json"]), NormLab.Cli.JsonFiles.Options)!;
        var failures = results.Where(r => !r.Passed).Select(r => $"{r.Kind} {r.Entry} / {r.Case}: {r.Outcome}: {r.Detail}").ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(0, r.ExitCode);

        var covered = results.Select(r => (r.Kind, r.Entry)).Distinct().ToHashSet();
        Assert.Equal(BadInputCatalogue.Entries().ToHashSet(), covered);
        int expected = NormLab.Registry.NormRegistry.Entries.Count * NormalizerCases.Names.Length
                       + NormLab.Registry.WeightNormRegistry.Entries.Count * WeightNormCases.Names.Length
                       + NormLab.Registry.OptimizerRegistry.Entries.Count * OptimizerCases.Names.Length;
        Assert.Equal(expected, results.Count);
        Assert.Contains($"{results.Count} cases, {results.Count} as documented, 0 not", r.Out);
    }

    [Fact]
    public void The_checks_reject_native_errors_multi_line_messages_silent_acceptance_and_wrong_results()
    {
        var native = Attempt.Of(() => ones(2, 3) + ones(4, 5)); // a LibTorch error (not matmul: that one aborts the process)
        Assert.Equal("UNCLEAR ERROR", Expect.ErrorRequired(native, "2").Item1);
        var twoLines = new Attempt(null, new ArgumentException("x (3) is wrong\nsee the docs"), 0);
        Assert.False(twoLines.IsClearError("3"));
        var unnamed = new Attempt(null, new ArgumentException("bad input"), 0);
        Assert.False(unnamed.IsClearError("33"));
        var accepted = Attempt.Of(() => ones(2));
        Assert.Equal("ACCEPTED", Expect.ErrorRequired(accepted, "2").Item1);
        Assert.Equal("SILENT NaN", Expect.ErrorOrFinite(Attempt.Of(() => tensor(new[] { double.NaN })), "1").Item1);
        Assert.False(Expect.Agreement(tensor(new[] { 1.0, 2.0 }), tensor(new[] { 1.0, 2.1 }), 1e-3, "ok").Item2);
        var clear = new Attempt(null, new ArgumentException("input has 33 channels; num_channels = 32"), 0);
        Assert.Equal("error", Expect.ErrorRequired(clear, "33").Item1);
    }
}
