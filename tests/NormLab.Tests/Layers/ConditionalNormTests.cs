using NormLab.IO;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Layers;

/// <summary>The recovery family: AdaIN, SPADE, conditional BN, FiLM and attentive normalization.</summary>
public class ConditionalNormTests
{
    private static nn.Module<Tensor, Tensor, Tensor> Conditional(string spec, long[] features, long[] condition)
    {
        var m = NormRegistry.CreateConditional(spec, features, condition);
        m.to(ScalarType.Float64);
        return m;
    }

    [Fact]
    public void AdaIN_output_has_the_styles_channel_mean_and_std()
    {
        var adain = Conditional("adain(eps=0)", new long[] { 5, 6, 6 }, new long[] { 5, 4, 3 });
        var rand = new Rand(120);
        var content = rand.Features(3, 5, 6, 6);
        var style = rand.Features(3, 5, 4, 3) * 3 + 1;
        var y = adain.call(content, style).reshape(3, 5, -1);
        var s = style.reshape(3, 5, -1);
        TensorAssert.Close(s.mean(new long[] { 2 }), y.mean(new long[] { 2 }), rtol: 1e-10, atol: 1e-10, what: "mean");
        TensorAssert.Close(s.std(2, unbiased: true), y.std(2, unbiased: true), rtol: 1e-10, atol: 1e-10, what: "std");
    }

    [Fact]
    public void AdaIN_matches_the_reference_formula_with_gradients()
    {
        var adain = Conditional("adain", new long[] { 4, 5, 5 }, new long[] { 4, 3, 3 });
        var rand = new Rand(121);
        var content = rand.Features(2, 4, 5, 5);
        var style = rand.Features(2, 4, 3, 3);
        Tensor Stats(Tensor t, out Tensor mean)
        {
            var v = t.reshape(t.shape[0], t.shape[1], -1);
            mean = v.mean(new long[] { 2 }).view(t.shape[0], t.shape[1], 1, 1);
            return (v.var(2, unbiased: true) + 1e-5).sqrt().view(t.shape[0], t.shape[1], 1, 1);
        }
        var c1 = content.clone().requires_grad_(true);
        var s1 = style.clone().requires_grad_(true);
        var c2 = content.clone().requires_grad_(true);
        var s2 = style.clone().requires_grad_(true);
        var y = adain.call(c1, s1);
        var cs = Stats(c2, out var cm);
        var ss = Stats(s2, out var sm);
        var expected = (c2 - cm) / cs * ss + sm;
        TensorAssert.Close(expected, y, what: "output");
        var g = rand.Normal(y.shape);
        (y * g).sum().backward();
        (expected * g).sum().backward();
        TensorAssert.Close(c2.grad!, c1.grad!, what: "content gradient");
        TensorAssert.Close(s2.grad!, s1.grad!, what: "style gradient");
    }

    [Fact]
    public void Conditional_BN_selects_each_samples_class_parameters()
    {
        var cbn = Conditional("cbn(classes=4)", new long[] { 3, 2, 2 }, Array.Empty<long>());
        var rand = new Rand(122);
        using (no_grad())
        {
            cbn.get_parameter("weight")!.copy_(rand.Uniform(0.5, 2, 4, 3));
            cbn.get_parameter("bias")!.copy_(rand.Uniform(-1, 1, 4, 3));
        }
        var x = rand.Features(5, 3, 2, 2);
        var ids = tensor(new long[] { 2, 0, 3, 2, 1 });
        var y = cbn.call(x, ids);
        var bn = NormRegistry.Create("bn(affine=false)", 3, 2, 2);
        bn.to(ScalarType.Float64);
        var xhat = bn.call(x);
        for (int i = 0; i < 5; i++)
        {
            long c = ids[i].item<long>();
            var expected = xhat[i] * cbn.get_parameter("weight")![c].view(3, 1, 1) + cbn.get_parameter("bias")![c].view(3, 1, 1);
            TensorAssert.Close(expected, y[i], what: $"sample {i} (class {c})");
        }
        var e = Assert.ThrowsAny<ArgumentException>(() => cbn.call(x, tensor(new long[] { 0, 1, 4, 2, 1 })));
        Assert.Contains("class id 4 is out of range; classes (4) allows ids 0 to 3", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => cbn.call(x, tensor(new long[] { 0, -1, 2, 2, 1 })));
        Assert.Contains("class id -1 is out of range", e.Message);
    }

    [Fact]
    public void SPADE_responds_only_near_the_changed_region_of_the_map()
    {
        var spade = Conditional("spade(norm=gn(groups=2),hidden=8)", new long[] { 4, 16, 16 }, new long[] { 3, 16, 16 });
        var rand = new Rand(123);
        var x = rand.Features(2, 4, 16, 16);
        var map = rand.Uniform(0, 1, 2, 3, 16, 16);
        var changed = map.clone();
        changed[.., .., 2..5, 3..6] = rand.Uniform(2, 3, 2, 3, 3, 3);
        var diff = (spade.call(x, changed) - spade.call(x, map)).abs().amax(new long[] { 0, 1 });
        // two stacked 3x3 convs see 2 pixels around the changed region [2..4] x [3..5]
        var inside = zeros(16, 16, dtype: ScalarType.Bool);
        inside[0..7, 1..8] = true;
        Assert.True(diff.masked_select(inside.logical_not()).max().item<double>() == 0, "outputs outside the receptive field changed");
        Assert.True(diff[3, 4].item<double>() > 1e-6, "the changed region itself did not change");
    }

    [Fact]
    public void SPADE_resizes_the_map_and_matches_the_reference_formula()
    {
        var spade = Conditional("spade(hidden=5)", new long[] { 3, 4, 4 }, new long[] { 2, 2, 2 });
        var rand = new Rand(124);
        var x = rand.Features(2, 3, 4, 4);
        var map = rand.Uniform(0, 1, 2, 2, 2, 2);
        var y = spade.call(x, map);
        var up = map.repeat_interleave(2, 2).repeat_interleave(2, 3);
        var children = spade.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        var hidden = children["mlp_shared"].call(up);
        var xhat = NormRegistry.Create("in", 3, 4, 4).call(x);
        TensorAssert.Close(xhat * (1 + children["mlp_gamma"].call(hidden)) + children["mlp_beta"].call(hidden), y, what: "spade");
    }

    [Fact]
    public void FiLM_matches_its_formula()
    {
        var film = Conditional("film(dim=3)", new long[] { 4, 3, 3 }, new long[] { 3 });
        var rand = new Rand(125);
        var x = rand.Features(2, 4, 3, 3);
        var z = rand.Normal(2, 3);
        var children = film.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        var xhat = NormRegistry.Create("in", 4, 3, 3).call(x);
        var expected = xhat * (1 + children["gamma"].call(z).view(2, 4, 1, 1)) + children["beta"].call(z).view(2, 4, 1, 1);
        TensorAssert.Close(expected, film.call(x, z), what: "film");
    }

    [Fact]
    public void Attentive_norm_with_one_component_and_constant_attention_is_affine()
    {
        var an = NormRegistry.Create("an(K=1)", 4, 3, 3);
        an.to(ScalarType.Float64);
        using (no_grad()) an.get_parameter("attention.fc.weight")!.zero_();
        var x = new Rand(126).Features(5, 4, 3, 3);
        var y = an.call(x);
        // attention = hsigmoid(BN(0)) = hsigmoid(0) = 1/2 for every sample
        var affine = NormRegistry.Create("bn", 4, 3, 3);
        affine.to(ScalarType.Float64);
        using (no_grad())
        {
            affine.get_parameter("weight")!.copy_(an.get_parameter("weight")![0] * 0.5);
            affine.get_parameter("bias")!.copy_(an.get_parameter("bias")![0] * 0.5);
        }
        TensorAssert.Close(affine.call(x), y, what: "an(K=1) vs affine");
    }

    [Fact]
    public void Attentive_norm_mixes_components_by_attention_from_the_raw_input()
    {
        var an = NormRegistry.Create("an(K=3)", 4, 3, 3);
        an.to(ScalarType.Float64);
        var rand = new Rand(127);
        var x = rand.Features(5, 4, 3, 3);
        var y = an.call(x);
        var fc = an.get_parameter("attention.fc.weight")!;
        var logits = x.mean(new long[] { 2, 3 }).matmul(fc.t());
        var mean = logits.mean(new long[] { 0 }, keepdim: true);
        var normalized = (logits - mean) / (logits.var(0, unbiased: false, keepdim: true) + 1e-5).sqrt();
        var lambda = (normalized + 3).clamp(0, 6) / 6;
        var bn = NormRegistry.Create("bn(affine=false)", 4, 3, 3);
        bn.to(ScalarType.Float64);
        var xhat = bn.call(x);
        var expected = xhat * lambda.matmul(an.get_parameter("weight")!).view(5, 4, 1, 1) + lambda.matmul(an.get_parameter("bias")!).view(5, 4, 1, 1);
        TensorAssert.Close(expected, y, what: "an");
    }

    [Theory]
    [InlineData("adain", new long[] { 4, 3, 3 })]
    [InlineData("spade(hidden=4)", new long[] { 2, 3, 3 })]
    [InlineData("cbn(classes=3)", new long[0])]
    [InlineData("film(dim=2)", new long[] { 2 })]
    public void Gradients_match_finite_differences(string spec, long[] conditionShape)
    {
        var m = Conditional(spec, new long[] { 4, 3, 3 }, conditionShape);
        NativeConformanceTests.Randomize(m, 128);
        var rand = new Rand(129);
        var x = rand.Features(3, 4, 3, 3);
        Tensor condition = conditionShape.Length == 0 ? tensor(new long[] { 2, 0, 1 }) : rand.Features(new long[] { 3 }.Concat(conditionShape).ToArray());
        if (condition.is_floating_point())
            GradCheck.Check(a => m.call(a[0], a[1]), new[] { x, condition }, m);
        else
            GradCheck.Check(a => m.call(a[0], condition), new[] { x }, m);
    }

    [Fact]
    public void Attentive_norm_gradients_match_finite_differences()
    {
        var an = NormRegistry.Create("an(K=3)", 4, 3, 3);
        an.to(ScalarType.Float64);
        GradCheck.Module(an, new Rand(130).Features(4, 4, 3, 3));
    }

    [Theory]
    [InlineData("adain", new long[] { 4, 3, 3 }, new long[] { 2, 5, 3, 3 }, "does not match the input")]
    [InlineData("adain", new long[] { 4, 3, 3 }, new long[] { 2, 4, 1, 1 }, "fewer than 2 positions")]
    [InlineData("spade(hidden=4)", new long[] { 2, 3, 3 }, new long[] { 2, 3, 3, 3 }, "segmentation map [N, 2, h, w]")]
    [InlineData("spade(hidden=4)", new long[] { 2, 3, 3 }, new long[] { 2, 2, 3 }, "does not match the input")]
    [InlineData("film(dim=2)", new long[] { 2 }, new long[] { 2, 3 }, "conditioning vectors [N, 2]")]
    [InlineData("film(dim=2)", new long[] { 2 }, new long[] { 3, 2 }, "does not match the input")]
    [InlineData("cbn(classes=3)", new long[0], new long[] { 2, 1 }, "class ids int64 [N]")]
    public void Wrong_condition_shapes_are_clear_errors(string spec, long[] built, long[] given, string fragment)
    {
        var m = Conditional(spec, new long[] { 4, 3, 3 }, built);
        var condition = spec.StartsWith("cbn") ? zeros(given, ScalarType.Int64) : ones(given, ScalarType.Float64);
        var e = Assert.ThrowsAny<ArgumentException>(() => m.call(ones(2, 4, 3, 3, dtype: ScalarType.Float64), condition));
        Assert.Contains(fragment, e.Message);
        Assert.Contains("condition of shape", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => m.call(ones(2, 4, 3, 3, dtype: ScalarType.Float64), spec.StartsWith("cbn") ? ones(2) : zeros(new long[] { 2 }.Concat(built).ToArray(), ScalarType.Int64)));
        Assert.Contains("condition", e.Message);
    }

    [Fact]
    public void Conditional_specs_need_a_condition_shape_or_keys()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("spade", 4, 3, 3));
        Assert.Contains("conditional", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.CreateConditional("bn", new long[] { 4 }, new long[] { 2 }));
        Assert.Contains("not a conditional normalizer", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.CreateConditional("spade(norm=adain)", new long[] { 4, 3, 3 }, new long[] { 2, 3, 3 }));
        Assert.Contains("inner normalizer must be a plain one", e.Message);
        Assert.NotNull(NormRegistry.CreateConditional("spade(norm=sn,hidden=4)", new long[] { 4, 3, 3 }, new long[] { 2, 3, 3 }));
    }

    [Fact]
    public void Apply_with_a_condition_file_runs_conditional_normalizers()
    {
        using var dir = new CliRunner.TempDir();
        var rand = new Rand(131);
        Npy.Write(dir["x.npy"], rand.Features(3, 4, 3, 3));
        Npy.Write(dir["ids.npy"], tensor(new long[] { 1, 0, 1 }));
        var r = CliRunner.Run("apply", "--norm", "cbn(classes=2)", "--input", dir["x.npy"], "--cond", dir["ids.npy"], "--out", dir["out"]);
        Assert.True(r.ExitCode == 0, r.Err);
        var state = File.ReadAllText(Path.Combine(dir["out"], "state.json"));
        Assert.Contains("param_free_norm.running_mean", state);
        Assert.True(File.Exists(Path.Combine(dir["out"], "param_free_norm_running_mean.npy")));
        r = CliRunner.Run("apply", "--norm", "cbn(classes=2)", "--input", dir["x.npy"], "--out", dir["out"]);
        Assert.Contains("give its condition with --cond", r.Err);
        r = CliRunner.Run("apply", "--norm", "bn", "--input", dir["x.npy"], "--cond", dir["ids.npy"], "--out", dir["out"]);
        Assert.Contains("is not a conditional normalizer", r.Err);
        Npy.Write(dir["bad.npy"], tensor(new long[] { 1, 5, 1 }));
        r = CliRunner.Run("apply", "--norm", "cbn(classes=2)", "--input", dir["x.npy"], "--cond", dir["bad.npy"], "--out", dir["out"]);
        Assert.Contains("class id 5 is out of range", r.Err);
        Assert.NotEqual(0, r.ExitCode);
    }
}
