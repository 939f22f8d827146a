using System.Text.Json;
using NormLab.Tests.Support;

namespace NormLab.Tests.Cli;

/// <summary>
/// <c>normlab bench</c> end to end on a tiny shape with one repetition: the table and the JSON have the
/// documented structure, with and without a reference normalizer (no timing is asserted), and bad options
/// fail with one-line messages.
/// </summary>
public class BenchCommandTests
{
    [Fact]
    public void Bench_prints_the_table_and_writes_the_json_shape()
    {
        using var dir = new CliRunner.TempDir();
        var r = CliRunner.Run("bench", "--only", "bn,gn(groups=2),rms(dims=1),ws", "--shape", "3,4,5,5", "--repeat", "1", "--threads", "1", "--json", dir["bench.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("memory copy", r.Out);
        Assert.Contains("normlab ms", r.Out);
        foreach (var spec in new[] { "bn", "gn(groups=2)", "rms(dims=1)", "ws" })
            foreach (var pass in new[] { "fwd", "bwd", "fwdbwd" })
                Assert.Contains(r.Out.Split('\n'), line => line.StartsWith(spec + " ") && line.Contains(" " + pass + " "));

        using var doc = JsonDocument.Parse(File.ReadAllText(dir["bench.json"]));
        var root = doc.RootElement;
        Assert.Equal(new[] { "copy_gbps", "rows" }, root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.True(root.GetProperty("copy_gbps").GetDouble() > 0);
        var rows = root.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(12, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(new[] { "spec", "shape", "pass", "normlab_ms", "native_ms", "composite_ms", "floor_ms", "copy_gbps" }, row.EnumerateObject().Select(p => p.Name).ToArray());
            Assert.True(row.GetProperty("copy_gbps").GetDouble() > 0);
            Assert.Equal(new long[] { 3, 4, 5, 5 }, row.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
            Assert.Contains(row.GetProperty("pass").GetString(), new[] { "fwd", "bwd", "fwdbwd" });
            Assert.True(row.GetProperty("normlab_ms").GetDouble() > 0);
            Assert.True(row.GetProperty("composite_ms").GetDouble() > 0);
            Assert.True(row.GetProperty("floor_ms").GetDouble() > 0);
            string spec = row.GetProperty("spec").GetString()!;
            var native = row.GetProperty("native_ms");
            if (spec is "bn" or "gn(groups=2)") Assert.True(native.GetDouble() > 0, $"{spec} has a native op");
            else Assert.Equal(JsonValueKind.Null, native.ValueKind);
        }
        var bwd = rows.Single(x => x.GetProperty("spec").GetString() == "bn" && x.GetProperty("pass").GetString() == "bwd");
        var fwd = rows.Single(x => x.GetProperty("spec").GetString() == "bn" && x.GetProperty("pass").GetString() == "fwd");
        // The floor's bytes (floor × copy bandwidth): backward moves 3 tensors, forward 2.
        double Bytes(JsonElement row) => row.GetProperty("floor_ms").GetDouble() * row.GetProperty("copy_gbps").GetDouble();
        Assert.Equal(1.5, Bytes(bwd) / Bytes(fwd), 6);
    }

    /// <summary>With --reference, every row also times that normalizer on its shape; the JSON names it and gives reference_ms per row.</summary>
    [Fact]
    public void A_reference_normalizer_is_timed_in_every_row()
    {
        using var dir = new CliRunner.TempDir();
        var r = CliRunner.Run("bench", "--only", "zca(group=2),ws", "--reference", "bn", "--shape", "3,4,5,5", "--repeat", "1", "--threads", "1", "--json", dir["bench.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("ref ms", r.Out);
        Assert.Contains("ref = bn's NormLab time", r.Out);

        using var doc = JsonDocument.Parse(File.ReadAllText(dir["bench.json"]));
        var root = doc.RootElement;
        Assert.Equal(new[] { "copy_gbps", "reference", "rows" }, root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("bn", root.GetProperty("reference").GetString());
        var rows = root.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(6, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal("reference_ms", row.EnumerateObject().Last().Name);
            Assert.True(row.GetProperty("reference_ms").GetDouble() > 0);
        }
    }

    [Theory]
    [InlineData("bench: --repeat must be at least 1, got 0", "--repeat", "0")]
    [InlineData("bench: --threads must be at least 1, got 0", "--threads", "0")]
    [InlineData("bench: --shape needs at least 2 dims (N,C,...), got '8'", "--shape", "8")]
    [InlineData("bench: --shape must be positive integers separated by commas (N,C,H,W), got '8,x'", "--shape", "8,x")]
    [InlineData("bench: --only has an empty spec in 'bn,,gn'", "--only", "bn,,gn")]
    [InlineData("'adain' is a conditional normalizer; bench times plain normalizers and ws", "--only", "adain")]
    [InlineData("unknown normalizer 'nope'", "--only", "nope")]
    [InlineData("unknown normalizer 'nope'", "--reference", "nope")]
    [InlineData("'film' is a conditional normalizer; bench times plain normalizers and ws", "--reference", "film")]
    [InlineData("bench: unknown option --fast", "--fast", "1")]
    public void Bad_options_fail_with_a_usage_error_on_one_line(string fragment, params string[] args)
    {
        var r = CliRunner.Run(new[] { "bench" }.Concat(args).ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(fragment, r.Err);
        Assert.StartsWith("normlab bench: ", r.Err);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData(null, null, "OpenMP spin count 10000")]
    [InlineData("NORMLAB_OMP_SPIN", "default", "OpenMP spin count libgomp's default")]
    [InlineData("GOMP_SPINCOUNT", "777", "OpenMP spin count 777")]
    public void The_cli_shortens_OpenMP_spinning_before_LibTorch_loads_unless_told_otherwise(string? name, string? value, string expected)
    {
        if (!OperatingSystem.IsLinux()) return;
        var environment = new Dictionary<string, string?> { ["GOMP_SPINCOUNT"] = null, ["OMP_WAIT_POLICY"] = null, ["NORMLAB_OMP_SPIN"] = null };
        if (name is not null) environment[name] = value;
        var r = CliRunner.RunProcess(environment, TimeSpan.FromMinutes(2), "bench", "--only", "bn", "--shape", "2,2,3,3", "--repeat", "1", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains(expected, r.Out);
    }

    [Fact]
    public void Json_in_a_missing_directory_fails_before_timing()
    {
        using var dir = new CliRunner.TempDir();
        var r = CliRunner.Run("bench", "--only", "bn", "--shape", "2,3", "--repeat", "1", "--json", dir["missing/bench.json"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not exist", r.Err);
        Assert.Equal("", r.Out);
    }
}
