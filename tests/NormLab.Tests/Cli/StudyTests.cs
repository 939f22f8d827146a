using System.Text.Json;
using NormLab.Cli.Study;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary>The study end to end at a tiny scale: every output, computed values, resumption from the cache.</summary>
public class StudyTests
{
    private static (IReadOnlyList<ExperimentResult> Results, RunCache Cache) RunTiny(string dir)
    {
        var cache = new RunCache(Path.Combine(dir, "cache"));
        var options = new StudyOptions("synthetic", StudyScale.Tiny, 3, dir, 1, Experiment.All);
        var results = StudyRunner.Run(options, new Progress(TextWriter.Null, false), cache, CancellationToken.None);
        return (results, cache);
    }

    [Fact]
    public void A_tiny_study_writes_every_output_with_computed_values_and_resumes_from_its_cache()
    {
        using var dir = new CliRunner.TempDir();
        var (results, cache) = RunTiny(dir.Path);
        Assert.Equal(new[] { "E1", "E2", "E3", "E4", "E5", "E6" }, results.Select(r => r.Id));
        Assert.Equal(0, cache.Hits);

        foreach (var r in results)
        {
            Assert.True(File.Exists(dir[$"{r.Id.ToLowerInvariant()}.csv"]), $"{r.Id}.csv missing");
            Assert.NotEmpty(r.Figures);
            foreach (var f in r.Figures)
            {
                var png = File.ReadAllBytes(dir[Report.PngName(r, f)]);
                Assert.True(png.Length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', $"{f.Name} is not a PNG");
            }
            Assert.False(string.IsNullOrWhiteSpace(r.Finding));
            Assert.Matches(@"\d", r.Finding);
        }

        var json = JsonDocument.Parse(File.ReadAllText(dir["results.json"])).RootElement;
        var experiments = json.GetProperty("experiments").EnumerateArray().ToList();
        Assert.Equal(6, experiments.Count);
        foreach (var e in experiments)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("Claim").GetString()));
            Assert.True(e.GetProperty("Held").ValueKind is JsonValueKind.True or JsonValueKind.False);
            var values = e.GetProperty("Values");
            Assert.True(values.EnumerateObject().Count() >= 3, $"{e.GetProperty("Id")} has too few values");
        }
        var e1 = experiments[0].GetProperty("Values").GetProperty("kappa");
        Assert.True(e1.GetProperty("raw").GetDouble() > e1.GetProperty("whitened (ZCA)").GetDouble(), "E1's kappa values are not computed");
        var e2 = experiments[1].GetProperty("Values").GetProperty("test_error_percent").GetProperty("BN");
        Assert.All(e2.EnumerateArray(), v => Assert.InRange(v.GetDouble(), 0, 100));
        var e2Values = experiments[1].GetProperty("Values");
        Assert.Equal(8, e2Values.GetProperty("shallow_test_error_percent").EnumerateObject().Count());
        Assert.Equal(new[] { "IN", "SN" }, e2Values.GetProperty("undefined_on_deep").EnumerateObject().Select(p => p.Name));
        Assert.Contains("1 value per statistic", e2Values.GetProperty("undefined_on_deep").GetProperty("IN").GetString());
        Assert.Equal(6, json.GetProperty("claims").GetArrayLength());

        string html = File.ReadAllText(dir["report.html"]);
        Assert.Contains("data:image/png;base64,", html);
        foreach (var r in results) Assert.Contains($"id=\"{r.Id}\"", html);
        Assert.DoesNotContain("src=\"e1", html);
        string md = File.ReadAllText(dir["report.md"]);
        Assert.Contains("| experiment | claim | held | finding |", md);
        Assert.Contains("![", md);

        Assert.DoesNotMatch(@"\d\.\d{7,}", md);
        var (again, cacheAgain) = RunTiny(dir.Path);
        Assert.DoesNotMatch(@"\d\.\d{7,}", File.ReadAllText(dir["report.md"]));
        Assert.Equal(6, cacheAgain.Hits);
        Assert.Equal(0, cacheAgain.Misses);
        Assert.Equal(results.Select(r => r.Finding), again.Select(r => r.Finding));

        // A study interrupted inside an experiment resumes from the runs and analyses it cached: every
        // unit below the experiment level must read back to the same finding.
        foreach (var file in Directory.GetFiles(dir["cache"], "*-experiment-*")) File.Delete(file);
        var (resumed, cacheResumed) = RunTiny(dir.Path);
        Assert.Equal(6, cacheResumed.Misses);
        Assert.Equal(results.Select(r => r.Finding), resumed.Select(r => r.Finding));
    }

    [Fact]
    public void Bad_study_arguments_give_one_line_errors()
    {
        using var dir = new CliRunner.TempDir();
        File.WriteAllText(dir["blocker"], "not a directory");
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "study", "--only", "E1,E9" }, "unknown experiment 'E9' in --only; valid: E1, E2, E3, E4, E5, E6"),
            (new[] { "study", "--data", "imagenet" }, "--data must be one of synthetic|fashion-mnist"),
            (new[] { "study", "--out", Path.Combine(dir["blocker"], "x") }, "is not writable"),
            (new[] { "study", "--threads", "0" }, "--threads (0) must be at least 1"),
            (new[] { "study", "--seed" }, "normlab study: option --seed needs a value"),
            (new[] { "study", "--bogus" }, "normlab study: unknown option --bogus; valid: --data,"),
        };
        foreach (var (args, fragment) in cases)
        {
            var r = CliRunner.Run(args);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(fragment, r.Err);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
        }
    }
}
