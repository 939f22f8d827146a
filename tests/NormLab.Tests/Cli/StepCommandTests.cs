using NormLab.IO;
using NormLab.Tests.Optim;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Cli;

/// <summary><c>normlab step</c> end to end: one step from files, state in and out with PyTorch's keys, and one-line errors.</summary>
public class StepCommandTests
{
    private static readonly Rand R = new(70);
    private static readonly Tensor W = R.Normal(3, 2);
    private static readonly Tensor B = R.Normal(2);
    private static readonly Tensor Gw = R.Normal(3, 2);
    private static readonly Tensor Gb = R.Normal(2) * 0.01;

    private static CliRunner.Result Step(CliRunner.TempDir dir, string spec, params string[] extra)
    {
        Npy.Write(dir["w.npy"], W);
        Npy.Write(dir["b.npy"], B);
        Npy.Write(dir["gw.npy"], Gw);
        Npy.Write(dir["gb.npy"], Gb);
        var args = new[] { "step", "--optim", spec, "--param", $"w={dir["w.npy"]}", "--param", $"b={dir["b.npy"]}",
            "--grad", $"w={dir["gw.npy"]}", "--grad", $"b={dir["gb.npy"]}", "--out", dir["out"] }.Concat(extra).ToArray();
        return CliRunner.Run(args);
    }

    private static Tensor Out(CliRunner.TempDir dir, string file) => Npy.Read(Path.Combine(dir["out"], file));

    [Fact]
    public void Adam_with_loaded_moments_and_step_count_uses_bias_corrections_for_that_step()
    {
        using var dir = new CliRunner.TempDir();
        var m = R.Normal(3, 2) * 0.1;
        var v = R.Uniform(0.01, 0.2, 3, 2);
        Npy.Write(dir["m.npy"], m);
        Npy.Write(dir["v.npy"], v);
        var r = Step(dir, "adam(lr=0.01,weight_decay=0.1)", "--state", $"w.exp_avg={dir["m.npy"]}", "--state", $"w.exp_avg_sq={dir["v.npy"]}", "--step-count", "4");
        Assert.True(r.ExitCode == 0, r.Err);

        // The 4th step: state counts as 3 steps taken.
        var reference = new ReferenceOptimizer(Hyper.FromSpec("adam(lr=0.01,weight_decay=0.1)"));
        (reference.State(0).M, reference.State(0).V, reference.State(0).T) = (m, v, 3);
        reference.State(1).T = 3;
        var expected = reference.Step(new[] { W, B }, new[] { Gw, Gb });
        TensorAssert.Close(expected[0], Out(dir, "w.npy"), rtol: 1e-12, atol: 1e-14, what: "w");
        TensorAssert.Close(expected[1], Out(dir, "b.npy"), rtol: 1e-12, atol: 1e-14, what: "b");
        TensorAssert.Close(reference.State(0).M!, Out(dir, "w.exp_avg.npy"), rtol: 1e-12, atol: 1e-14, what: "w.exp_avg");
        TensorAssert.Close(reference.State(0).V!, Out(dir, "w.exp_avg_sq.npy"), rtol: 1e-12, atol: 1e-14, what: "w.exp_avg_sq");
        TensorAssert.Close(reference.State(1).M!, Out(dir, "b.exp_avg.npy"), rtol: 1e-12, atol: 1e-14, what: "b.exp_avg");
        Assert.Equal(4L, Out(dir, "w.step.npy").item<long>());
        Assert.Equal(4L, Out(dir, "b.step.npy").item<long>());
        Assert.Contains("adam(lr=0.01,weight_decay=0.1) on 2 parameter(s)", r.Out);
    }

    [Fact]
    public void Sgd_continues_a_loaded_momentum_buffer_and_writes_it_back()
    {
        using var dir = new CliRunner.TempDir();
        var buf = R.Normal(3, 2);
        Npy.Write(dir["buf.npy"], buf);
        var r = Step(dir, "sgd(lr=0.1,momentum=0.9)", "--state", $"w.momentum_buffer={dir["buf.npy"]}");
        Assert.True(r.ExitCode == 0, r.Err);
        TensorAssert.Close(0.9 * buf + Gw, Out(dir, "w.momentum_buffer.npy"), rtol: 1e-15, atol: 0);
        TensorAssert.Close(W - 0.1 * (0.9 * buf + Gw), Out(dir, "w.npy"), rtol: 1e-14, atol: 1e-15);
        // b had no buffer: PyTorch's first step sets it to the gradient.
        TensorAssert.Close(Gb, Out(dir, "b.momentum_buffer.npy"), rtol: 0, atol: 0);
        Assert.False(File.Exists(Path.Combine(dir["out"], "w.step.npy")), "SGD keeps no step count");
    }

    [Theory]
    [InlineData("lars(lr=0.5,weight_decay=0.01)")]
    [InlineData("lamb(lr=0.01,clamp=1)")]
    [InlineData("lans(lr=0.01,weight_decay=0.1)")]
    [InlineData("gradnorm(inner=adamw(lr=0.01))")]
    public void A_fresh_step_matches_the_reference(string spec)
    {
        using var dir = new CliRunner.TempDir();
        var r = Step(dir, spec);
        Assert.True(r.ExitCode == 0, r.Err);
        var expected = new ReferenceOptimizer(Hyper.FromSpec(spec)).Step(new[] { W, B }, new[] { Gw, Gb });
        TensorAssert.Close(expected[0], Out(dir, "w.npy"), rtol: 1e-12, atol: 1e-14, what: "w");
        TensorAssert.Close(expected[1], Out(dir, "b.npy"), rtol: 1e-12, atol: 1e-14, what: "b");
    }

    [Fact]
    public void Step_state_file_names_with_dots_and_float32_are_supported()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["p.npy"], W.to(ScalarType.Float32));
        Npy.Write(dir["g.npy"], Gw);
        Npy.Write(dir["t.npy"], tensor(9L));
        var r = CliRunner.Run("step", "--optim", "lamb(lr=0.01)", "--param", $"conv.weight={dir["p.npy"]}", "--grad", $"conv.weight={dir["g.npy"]}",
            "--state", $"conv.weight.step={dir["t.npy"]}", "--out", dir["out"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var w = Out(dir, "conv.weight.npy");
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.Equal(10L, Out(dir, "conv.weight.step.npy").item<long>());
        var reference = new ReferenceOptimizer(Hyper.FromSpec("lamb(lr=0.01)"));
        reference.State(0).T = 9;
        var expected = reference.Step(new[] { W.to(ScalarType.Float32).to(ScalarType.Float64) }, new[] { Gw.to(ScalarType.Float32).to(ScalarType.Float64) })[0];
        TensorAssert.Close(expected, w, rtol: 1e-5, atol: 1e-6);
    }

    [Fact]
    public void A_parameter_without_a_gradient_is_written_unchanged()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["w.npy"], W);
        Npy.Write(dir["b.npy"], B);
        Npy.Write(dir["gw.npy"], Gw);
        var r = CliRunner.Run("step", "--optim", "sgd(lr=0.1)", "--param", $"w={dir["w.npy"]}", "--param", $"b={dir["b.npy"]}",
            "--grad", $"w={dir["gw.npy"]}", "--out", dir["out"]);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.True(TensorAssert.Same(B, Out(dir, "b.npy")));
    }

    [Fact]
    public void Errors_are_one_line_with_a_non_zero_exit_code()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["w.npy"], W);
        Npy.Write(dir["g_bad.npy"], ones(2, 3, ScalarType.Float64));
        Npy.Write(dir["s_bad.npy"], ones(6, ScalarType.Float64));
        Npy.Write(dir["s_ok.npy"], ones(3, 2, ScalarType.Float64));
        Npy.Write(dir["int.npy"], ones(3, 2, ScalarType.Int64));
        Npy.Write(dir["t.npy"], tensor(new[] { 1L, 2L }));
        string P = $"w={dir["w.npy"]}", G = $"w={dir["w.npy"]}";
        string[] Base(string spec) => new[] { "step", "--optim", spec, "--param", P, "--grad", G, "--out", dir["out"] };
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "step", "--optim", "sgd", "--param", P, "--grad", $"v={dir["w.npy"]}", "--out", dir["out"] }, "--grad: unknown parameter 'v'; parameters: w"),
            (Base("adam").Append("--state").Append($"v.exp_avg={dir["s_ok.npy"]}").ToArray(), "--state: unknown parameter 'v'; parameters: w"),
            (Base("adam").Append("--state").Append($"w.momentum_buffer={dir["s_ok.npy"]}").ToArray(), "unknown state key 'momentum_buffer' for Adam; valid: exp_avg, exp_avg_sq, step"),
            (Base("sgd(momentum=0.9)").Append("--state").Append($"w.step={dir["t.npy"]}").ToArray(), "unknown state key 'step' for Sgd; valid: momentum_buffer"),
            (new[] { "step", "--optim", "sgd", "--param", P, "--grad", $"w={dir["g_bad.npy"]}", "--out", dir["out"] }, "has shape [2, 3] but parameter 'w' has shape [3, 2]"),
            (Base("adam").Append("--state").Append($"w.exp_avg={dir["s_bad.npy"]}").ToArray(), "has shape [6] but parameter 'w' has shape [3, 2]"),
            (Base("adam").Append("--state").Append($"w.step={dir["t.npy"]}").ToArray(), "must hold one non-negative integer"),
            (Base("adam").Append("--state").Append($"w.exp_avg={dir["int.npy"]}").ToArray(), "expected a float32 or float64 array"),
            (Base("adam").Concat(new[] { "--state", $"w.step={dir["t.npy"]}", "--step-count", "2" }).ToArray(), "both set the step count"),
            (Base("adam").Append("--state").Append($"exp_avg={dir["s_ok.npy"]}").ToArray(), "--state expects NAME.KEY=FILE"),
            (Base("sgd(lr=-0.1)"), "lr (-0.1) must be a finite number >= 0"),
            (Base("lamb(beta1=1)"), "beta1 (1) must be in [0, 1)"),
            (Base("adam(beta2=-0.5)"), "beta2 (-0.5) must be in [0, 1)"),
            (Base("adagrad"), "unknown optimizer 'adagrad'; valid: sgd, adam, adamw, lars, lamb, lans, gradnorm"),
            (Base("lars(lrate=1)"), "unknown key 'lrate' for 'lars'; valid keys: lr=1,"),
            (Base("adam").Append("--step-count").Append("0").ToArray(), "--step-count (0) must be at least 1"),
            (new[] { "step", "--optim", "sgd", "--param", $"w={dir["int.npy"]}", "--out", dir["out"] }, "expected a float32 or float64 array"),
            (new[] { "step", "--optim", "sgd", "--param", P, "--param", P, "--out", dir["out"] }, "parameter 'w' is given twice"),
            (new[] { "step", "--optim", "sgd", "--grad", G, "--out", dir["out"] }, "give at least one --param"),
            (new[] { "step", "--optim", "sgd", "--param", P, "--grad", G }, "missing required option --out"),
            (new[] { "step", "--optim", "sgd", "--param", $"../w={dir["w.npy"]}", "--out", dir["out"] }, "cannot be a file name"),
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
