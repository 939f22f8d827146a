using System.Text.Json;
using NormLab.IO;
using NormLab.Layers;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Cli;

/// <summary><c>normlab analyze</c> end to end.</summary>
public class AnalyzeCommandTests
{
    private static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    [Fact]
    public void Conditioning_reports_the_spectrum_and_zca_whitened_inputs_have_kappa_one()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(180);
        var x = rand.Normal(300, 4) * tensor(new double[] { 5, 2, 1, 0.3 }) + 1;
        Npy.Write(dir["x.npy"], x);
        var r = CliRunner.Run("analyze", "conditioning", "--input", dir["x.npy"], "--json", dir["c.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var j = Json(dir["c.json"]);
        var m = x.t().matmul(x) / 300;
        var eig = linalg.eigvalsh(m).data<double>().OrderByDescending(e => e).ToArray();
        var reported = j.GetProperty("eigenvalues").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(eig[i], reported[i], 10);
        Assert.Equal(eig[0] / eig[3], j.GetProperty("condition_number").GetDouble(), 6);
        Assert.Equal(1 / eig[0], j.GetProperty("optimal_lr").GetDouble(), 12);
        Assert.Equal(2 / eig[0], j.GetProperty("max_stable_lr").GetDouble(), 12);

        Npy.Write(dir["w.npy"], new InputNormalizer(InputNormalization.ZcaWhiten).Fit(x).Apply(x));
        r = CliRunner.Run("analyze", "conditioning", "--input", dir["w.npy"], "--centered", "--json", dir["w.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.InRange(Json(dir["w.json"]).GetProperty("condition_number").GetDouble(), 1 - 1e-6, 1 + 1e-6);
    }

    [Fact]
    public void Hessian_of_the_linear_model_matches_the_closed_form()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(181);
        var x = rand.Normal(60, 3) * tensor(new double[] { 3, 1, 0.4 });
        Npy.Write(dir["x.npy"], x);
        Npy.Write(dir["y.npy"], rand.Normal(60, 2));
        var r = CliRunner.Run("analyze", "hessian", "--model", "linear", "--input", dir["x.npy"], "--target", dir["y.npy"],
            "--top-k", "2", "--trace", "--density", "--json", dir["h.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var j = Json(dir["h.json"]);
        var s = x.t().matmul(x) / 60;
        double lmax = linalg.eigvalsh(s).max().item<double>();
        var top = j.GetProperty("top_eigenvalues").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(2, top.Length);
        Assert.True(Math.Abs(top[0] - lmax) < 1e-8 * lmax && Math.Abs(top[1] - lmax) < 1e-8 * lmax, $"top {top[0]}, {top[1]} vs {lmax} (twice: two outputs)");
        Assert.Equal(2 * s.trace().item<double>(), j.GetProperty("trace").GetDouble(), 8);
        Assert.True(j.GetProperty("density").GetProperty("grid").GetArrayLength() > 100);
    }

    [Fact]
    public void Snd_reports_zero_for_layer_norm_and_positive_for_batch_norm()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["x.npy"], new Rand(182).Features(64, 4, 2, 2));
        var r = CliRunner.Run("analyze", "snd", "--norm", "ln(affine=false)", "--input", dir["x.npy"], "--batch-size", "8", "--json", dir["ln.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Equal(0.0, Json(dir["ln.json"]).GetProperty("snd").GetDouble());
        r = CliRunner.Run("analyze", "snd", "--norm", "bn(affine=false)", "--input", dir["x.npy"], "--batch-size", "8", "--samples", "4", "--probe", "4", "--seed", "3", "--json", dir["bn.json"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.True(Json(dir["bn.json"]).GetProperty("snd").GetDouble() > 0);
    }

    [Fact]
    public void Bad_inputs_give_one_line_errors()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["one.npy"], ones(1, 3, dtype: ScalarType.Float64));
        Npy.Write(dir["empty.npy"], ones(0, 3, dtype: ScalarType.Float64));
        Npy.Write(dir["x.npy"], ones(10, 3, dtype: ScalarType.Float64));
        Npy.Write(dir["y.npy"], ones(9, 1, dtype: ScalarType.Float64));
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "analyze", "conditioning", "--input", dir["one.npy"], "--json", dir["o.json"] }, "at least 2 samples"),
            (new[] { "analyze", "conditioning", "--input", dir["empty.npy"], "--json", dir["o.json"] }, "at least 2 samples"),
            (new[] { "analyze", "snd", "--norm", "bn", "--input", dir["x.npy"], "--batch-size", "11", "--json", dir["o.json"] }, "batch size (11) must be between 1 and the data set size (10)"),
            (new[] { "analyze", "snd", "--norm", "bn", "--input", dir["empty.npy"], "--batch-size", "1", "--json", dir["o.json"] }, "empty"),
            (new[] { "analyze", "hessian", "--model", "linear", "--input", dir["x.npy"], "--target", dir["y.npy"], "--json", dir["o.json"] }, "--target must be [10, out]"),
            (new[] { "analyze", "hessian", "--model", "linear", "--input", dir["empty.npy"], "--target", dir["empty.npy"], "--json", dir["o.json"] }, "non-empty"),
            (new[] { "analyze", "spectrum" }, "give what to analyze first"),
        };
        foreach (var (args, fragment) in cases)
        {
            var r = CliRunner.Run(args);
            Assert.True(r.ExitCode != 0, string.Join(' ', args));
            Assert.Contains(fragment, r.Err);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
        }
    }
}
