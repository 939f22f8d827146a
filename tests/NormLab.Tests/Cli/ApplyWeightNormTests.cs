using System.Text.Json;
using NormLab.IO;
using NormLab.Registry;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Cli;

/// <summary><c>normlab apply --weight-norm</c> on a raw weight, and the weight normalizers in <c>normlab list</c>, in-process.</summary>
public class ApplyWeightNormTests
{
    private static string Out(CliRunner.TempDir dir, string file) => Path.Combine(dir["out"], file);

    [Fact]
    public void List_prints_every_weight_normalizer_with_keys_paper_and_formula()
    {
        var r = CliRunner.Run("list");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Weight normalizers (WeightNormRegistry", r.Out);
        foreach (var e in WeightNormRegistry.Entries)
        {
            Assert.Contains($"{e.Name}({string.Join(",", e.Keys.Select(k => k.ToString()))})", r.Out);
            Assert.Contains(e.Paper, r.Out);
            Assert.Contains(e.Formula, r.Out);
        }
    }

    [Fact]
    public void Wn_writes_the_effective_weight_the_raw_weight_gradient_and_grad_weight_g()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(1);
        var w = rand.Normal(4, 3, 2, 2);
        var gOut = rand.Normal(4, 3, 2, 2);
        var g = rand.Uniform(0.5, 2, 4, 1, 1, 1);
        Npy.Write(dir["w.npy"], w);
        Npy.Write(dir["gout.npy"], gOut);
        Npy.Write(dir["g.npy"], g);
        var r = CliRunner.Run("apply", "--weight-norm", "wn", "--input", dir["w.npy"], "--out", dir["out"],
            "--grad-out", dir["gout.npy"], "--state", $"weight_g={dir["g.npy"]}");
        Assert.True(r.ExitCode == 0, r.Err);

        // y = g v/||v|| per row; d/dv = (g/||v||)(G - (v.G) v/||v||^2); d/dg = (v.G)/||v||, rows over (3, 2, 2)
        var v = w.reshape(4, -1);
        var G = gOut.reshape(4, -1);
        var norm = v.square().sum(new long[] { 1 }, keepdim: true).sqrt();
        var vg = (v * G).sum(new long[] { 1 }, keepdim: true);
        var gr = g.reshape(4, 1);
        TensorAssert.Close((gr * v / norm).reshape(w.shape), Npy.Read(Out(dir, "y.npy")), what: "y");
        TensorAssert.Close((gr / norm * (G - vg * v / norm.square())).reshape(w.shape), Npy.Read(Out(dir, "grad_input.npy")), what: "grad_input");
        TensorAssert.Close((vg / norm).reshape(4, 1, 1, 1), Npy.Read(Out(dir, "grad_weight_g.npy")), what: "grad_weight_g");
        Assert.False(File.Exists(Out(dir, "grad_weight_v.npy")), "the raw weight's gradient is grad_input.npy");
        TensorAssert.Close(w, Npy.Read(Out(dir, "weight_v.npy")), what: "weight_v");
        var state = JsonSerializer.Deserialize<Dictionary<string, long[]>>(File.ReadAllText(Out(dir, "state.json")))!;
        Assert.Equal(new[] { "weight_g", "weight_v" }, state.Keys.ToArray());
        Assert.Equal(new long[] { 4, 1, 1, 1 }, state["weight_g"]);
        Assert.Contains("weight normalizer wn on a weight [4, 3, 2, 2]", r.Out);
    }

    [Fact]
    public void Spectral_uses_the_given_u_iterates_in_train_mode_and_not_in_eval_mode()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(2);
        var w = rand.Normal(3, 5);
        var u0 = rand.Normal(3);
        var v0 = rand.Normal(5);
        Npy.Write(dir["w.npy"], w);
        Npy.Write(dir["u.npy"], u0);
        Npy.Write(dir["v.npy"], v0);

        var r = CliRunner.Run("apply", "--weight-norm", "spectral", "--input", dir["w.npy"], "--out", dir["out"], "--state", $"weight_u={dir["u.npy"]}");
        Assert.True(r.ExitCode == 0, r.Err);
        var a = w.t().mv(u0);
        var v1 = a / a.norm();
        var b = w.mv(v1);
        var u1 = b / b.norm();
        TensorAssert.Close(w / u1.dot(w.mv(v1)), Npy.Read(Out(dir, "y.npy")), what: "train y");
        TensorAssert.Close(u1, Npy.Read(Out(dir, "weight_u.npy")), what: "u after the iteration");
        TensorAssert.Close(v1, Npy.Read(Out(dir, "weight_v.npy")), what: "v after the iteration");
        TensorAssert.Close(w, Npy.Read(Out(dir, "weight_orig.npy")), what: "weight_orig");

        r = CliRunner.Run("apply", "--weight-norm", "spectral", "--input", dir["w.npy"], "--out", dir["out"], "--mode", "eval",
            "--state", $"weight_u={dir["u.npy"]}", "--state", $"weight_v={dir["v.npy"]}", "--dtype", "float32");
        Assert.True(r.ExitCode == 0, r.Err);
        var y = Npy.Read(Out(dir, "y.npy"));
        Assert.Equal(ScalarType.Float32, y.dtype);
        TensorAssert.Close(w / u0.dot(w.mv(v0)), y, 1e-5, 1e-6, "eval y with the stored u, v");
        TensorAssert.Close(u0, Npy.Read(Out(dir, "weight_u.npy")), 1e-6, 1e-6, "u unchanged in eval");
    }

    [Fact]
    public void Methods_without_own_parameters_write_only_grad_input()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["w.npy"], new Rand(3).Normal(3, 8));
        Npy.Write(dir["g.npy"], new Rand(4).Normal(3, 8));
        var r = CliRunner.Run("apply", "--weight-norm", "own(group=3)", "--input", dir["w.npy"], "--out", dir["out"], "--grad-out", dir["g.npy"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var y = Npy.Read(Out(dir, "y.npy"));
        TensorAssert.Close(eye(3, dtype: ScalarType.Float64), y.matmul(y.t()), 0, 1e-10, "orthonormal rows");
        Assert.Equal(new[] { "grad_input.npy" }, Directory.GetFiles(dir["out"], "grad_*").Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void Errors_are_one_line_with_a_non_zero_exit_code()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["w.npy"], ones(4, 4, ScalarType.Float64));
        Npy.Write(dir["u.npy"], ones(5, ScalarType.Float64));
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "apply", "--weight-norm", "wn", "--norm", "bn", "--input", dir["w.npy"], "--out", dir["o"] }, "give exactly one of --norm SPEC"),
            (new[] { "apply", "--input", dir["w.npy"], "--out", dir["o"] }, "give exactly one of --norm SPEC"),
            (new[] { "apply", "--weight-norm", "zz", "--input", dir["w.npy"], "--out", dir["o"] }, "unknown weight normalizer 'zz'; valid: wn, cwn, ws"),
            (new[] { "apply", "--weight-norm", "wn(dim=2)", "--input", dir["w.npy"], "--out", dir["o"] }, "dim (2) is out of range for the weight [4, 4]"),
            (new[] { "apply", "--weight-norm", "own", "--input", dir["w.npy"], "--out", dir["o"] }, "use group <= 3"),
            (new[] { "apply", "--weight-norm", "spectral", "--input", dir["w.npy"], "--out", dir["o"], "--state", $"weight_u={dir["u.npy"]}" }, "has shape [5] but 'weight_u' has shape [4]"),
            (new[] { "apply", "--weight-norm", "spectral", "--input", dir["w.npy"], "--out", dir["o"], "--state", $"u={dir["u.npy"]}" }, "unknown key 'u'; the state dict has: weight_orig [4, 4], weight_u [4], weight_v [4]"),
        };
        foreach (var (args, fragment) in cases)
        {
            var r = CliRunner.Run(args);
            Assert.True(r.ExitCode != 0, $"{string.Join(' ', args)} succeeded");
            Assert.Contains(fragment, r.Err);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
        }
    }
}
