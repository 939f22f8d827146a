using System.Text.Json;
using NormLab.IO;
using NormLab.Tests.Support;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Cli;

/// <summary><c>normlab apply</c> and <c>normlab list</c> end to end, in-process.</summary>
public class ApplyCommandTests
{
    [Fact]
    public void List_prints_every_normalizer_with_keys_paper_and_formula()
    {
        var r = CliRunner.Run("list");
        Assert.Equal(0, r.ExitCode);
        var all = NormLab.Registry.NormRegistry.Entries.Select(e => (e.Name, e.Paper, e.Formula))
            .Concat(NormLab.Registry.WeightNormRegistry.Entries.Select(e => (e.Name, e.Paper, e.Formula)))
            .Concat(NormLab.Registry.OptimizerRegistry.Entries.Select(e => (e.Name, e.Paper, e.Formula)));
        foreach (var (name, paper, formula) in all)
        {
            Assert.Contains($"{name}(", r.Out);
            Assert.Contains(paper, r.Out);
            Assert.Contains(formula, r.Out);
        }
    }

    [Fact]
    public void Apply_bn_in_train_mode_matches_native_batch_norm_and_writes_every_file()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(50);
        var x = rand.Features(4, 3, 5, 5);
        var g = rand.Normal(4, 3, 5, 5);
        var w = rand.Uniform(0.5, 2, 3);
        Npy.Write(dir["x.npy"], x);
        Npy.Write(dir["g.npy"], g);
        Npy.Write(dir["w.npy"], w);
        var r = CliRunner.Run("apply", "--norm", "bn(momentum=0.2)", "--input", dir["x.npy"], "--out", dir["out"],
            "--grad-out", dir["g.npy"], "--state", $"weight={dir["w.npy"]}");
        Assert.True(r.ExitCode == 0, r.Err);

        var xr = x.clone().requires_grad_(true);
        var wr = w.clone().requires_grad_(true);
        var br = zeros(3, ScalarType.Float64).requires_grad_(true);
        var rm = zeros(3, ScalarType.Float64);
        var rv = ones(3, ScalarType.Float64);
        var y = F.batch_norm(xr, rm, rv, wr, br, training: true, momentum: 0.2);
        (y * g).sum().backward();

        string Out(string f) => Path.Combine(dir["out"], f);
        TensorAssert.Close(y, Npy.Read(Out("y.npy")), what: "y");
        TensorAssert.Close(xr.grad!, Npy.Read(Out("grad_input.npy")), what: "grad_input");
        TensorAssert.Close(wr.grad!, Npy.Read(Out("grad_weight.npy")), what: "grad_weight");
        TensorAssert.Close(br.grad!, Npy.Read(Out("grad_bias.npy")), what: "grad_bias");
        TensorAssert.Close(rm, Npy.Read(Out("running_mean.npy")), what: "running_mean");
        TensorAssert.Close(rv, Npy.Read(Out("running_var.npy")), what: "running_var");
        Assert.Equal(1L, Npy.Read(Out("num_batches_tracked.npy")).item<long>());
        var state = JsonSerializer.Deserialize<Dictionary<string, long[]>>(File.ReadAllText(Out("state.json")))!;
        Assert.Equal(new long[] { 3 }, state["weight"]);
        Assert.Equal(Array.Empty<long>(), state["num_batches_tracked"]);
        Assert.Equal(5, state.Count);
    }

    [Fact]
    public void Apply_in_eval_mode_uses_loaded_running_statistics_in_float32()
    {
        using var dir = new CliRunner.TempDir();
        var x = new Rand(51).Features(2, 4, 3).to(ScalarType.Float32);
        var mean = tensor(new float[] { 1, -1, 0.5f, 2 });
        var variance = tensor(new float[] { 4, 1, 0.25f, 9 });
        Npy.Write(dir["x.npy"], x);
        Npy.Write(dir["m.npy"], mean);
        Npy.Write(dir["v.npy"], variance);
        var r = CliRunner.Run("apply", "--norm", "bn(affine=false)", "--input", dir["x.npy"], "--out", dir["out"], "--mode", "eval",
            "--dtype", "float32", "--state", $"running_mean={dir["m.npy"]}", "--state", $"running_var={dir["v.npy"]}");
        Assert.True(r.ExitCode == 0, r.Err);
        var y = Npy.Read(Path.Combine(dir["out"], "y.npy"));
        Assert.Equal(ScalarType.Float32, y.dtype);
        TensorAssert.Close((x - mean.view(1, 4, 1)) / (variance.view(1, 4, 1) + 1e-5).sqrt(), y, rtol: 1e-5, atol: 1e-6);
        Assert.False(File.Exists(Path.Combine(dir["out"], "grad_input.npy")));
    }

    [Fact]
    public void Errors_are_one_line_with_a_non_zero_exit_code()
    {
        using var dir = new CliRunner.TempDir();
        Npy.Write(dir["x.npy"], ones(2, 4, 3, ScalarType.Float64));
        Npy.Write(dir["bad_shape.npy"], ones(5, ScalarType.Float64));
        File.WriteAllBytes(dir["corrupt.npy"], new byte[] { 0x93, (byte)'N', (byte)'U', 1, 2 });
        File.WriteAllText(dir["blocker"], "a file where a directory should be");
        var cases = new (string[] Args, string Fragment)[]
        {
            (new[] { "apply", "--norm", "zz", "--input", dir["x.npy"], "--out", dir["o"] }, "unknown normalizer 'zz'"),
            (new[] { "apply", "--norm", "gn(groups=3)", "--input", dir["x.npy"], "--out", dir["o"] }, "groups (3) must divide num_channels (4)"),
            (new[] { "apply", "--norm", "bn", "--input", dir["corrupt.npy"], "--out", dir["o"] }, "truncated"),
            (new[] { "apply", "--norm", "bn", "--input", dir["missing.npy"], "--out", dir["o"] }, "does not exist"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", dir["o"], "--state", $"running_men={dir["bad_shape.npy"]}" }, "unknown key 'running_men'; the state dict has: weight [4], bias [4], running_mean [4]"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", dir["o"], "--state", $"running_mean={dir["bad_shape.npy"]}" }, "has shape [5] but 'running_mean' has shape [4]"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", dir["o"], "--grad-out", dir["bad_shape.npy"] }, "--grad-out has shape [5]"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", Path.Combine(dir["blocker"], "sub") }, "is not writable"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"] }, "missing required option --out"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", dir["o"], "--mode", "test" }, "--mode must be one of train|eval"),
            (new[] { "apply", "--norm", "bn", "--input", dir["x.npy"], "--out", dir["o"], "--frobnicate", "1" }, "unknown option --frobnicate"),
            (new[] { "frobnicate" }, "unknown command 'frobnicate'"),
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
