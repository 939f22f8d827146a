using NormLab.Areas;
using NormLab.Framework;
using NormLab.Layers;
using NormLab.Operations;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Framework;

/// <summary>Properties that tie the framework's areas together, checked in float64.</summary>
public class AreaPropertyTests
{
    private static readonly Tensor X = new Rand(31).Features(3, 6, 4, 5);

    [Fact]
    public void Group_1_statistics_equal_layer_statistics_over_C_H_W()
    {
        var group = ReductionArea.Group(6, 1);
        var layer = new LayerArea(new long[] { 6, 4, 5 });
        var gv = group.View(X);
        var lv = layer.View(X);
        TensorAssert.Close(layer.Average(lv).flatten(), group.Average(gv).flatten(), what: "mean");
        TensorAssert.Close(layer.Average(lv.square()).flatten(), group.Average(gv.square()).flatten(), what: "second moment");
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var gn = StandardNorms.GroupNorm(1, 6, affine: false);
        var ln = StandardNorms.LayerNorm(new long[] { 6, 4, 5 }, elementwise_affine: false);
        TensorAssert.Close(ln.call(X), gn.call(X), what: "gn(1) vs ln");
    }

    [Fact]
    public void Group_C_equals_instance_normalization()
    {
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var gn = StandardNorms.GroupNorm(6, 6, affine: false);
        var inorm = StandardNorms.InstanceNorm(6);
        TensorAssert.Close(inorm.call(X), gn.call(X), what: "gn(C) vs in");
    }

    [Fact]
    public void Batch_group_1_equals_standardization_over_N_C_H_W()
    {
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var bgn = StandardNorms.BatchGroupNorm(1, 6, affine: false);
        bgn.to(ScalarType.Float64);
        var mean = X.mean();
        var variance = (X - mean).square().mean();
        TensorAssert.Close((X - mean) / (variance + 1e-5).sqrt(), bgn.call(X), what: "bgn(1)");
        TensorAssert.Close(mean.reshape(1), bgn.get_buffer("running_mean")! / 0.1, what: "bgn(1) running mean");
    }

    [Fact]
    public void Positional_equals_standardization_over_C_at_each_position()
    {
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var pn = StandardNorms.PositionalNorm(6, unbiased: false);
        var y = pn.call(X);
        var perPosition = X.permute(0, 2, 3, 1).reshape(-1, 6);
        var expected = (perPosition - perPosition.mean(new long[] { 1 }, keepdim: true))
                       / (perPosition.var(1, unbiased: false, keepdim: true) + 1e-5).sqrt();
        TensorAssert.Close(expected.reshape(3, 4, 5, 6).permute(0, 3, 1, 2), y, what: "pn");
    }

    [Theory]
    [InlineData("bn")]
    [InlineData("ln")]
    [InlineData("in")]
    [InlineData("gn(groups=3)")]
    [InlineData("bgn(groups=2)")]
    [InlineData("pn")]
    public void Standardized_outputs_are_invariant_to_input_scale_and_shift(string spec)
    {
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = NormRegistry.Create($"{spec.TrimEnd(')')}{(spec.Contains('(') ? "," : "(")}eps=0)", 6, 4, 5);
            layer.to(ScalarType.Float64);
            var y = layer.call(X);
            var z = layer.call(X * 7.5 - 3.25);
            TensorAssert.Close(y, z, rtol: 1e-9, atol: 1e-9, what: $"{spec} under x -> 7.5x - 3.25");
        }
    }

    [Theory]
    [InlineData("rms")]
    [InlineData("ln")]
    public void Scaling_normalizers_are_invariant_to_input_scale(string spec)
    {
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var layer = NormRegistry.Create($"{spec}(eps=0)", 6, 4, 5);
        layer.to(ScalarType.Float64);
        TensorAssert.Close(layer.call(X), layer.call(X * 0.01), rtol: 1e-9, atol: 1e-9, what: spec);
    }

    [Fact]
    public void Centering_removes_the_batch_mean_and_is_shift_invariant()
    {
        using var _ = KernelPolicy.Use(KernelMode.Composite);
        var layer = new Normalizer("center", ReductionArea.Batch(6), new Centering(), new NormLab.Recoveries.IdentityRecovery());
        var y = layer.call(X);
        Assert.True(y.mean(new long[] { 0, 2, 3 }).abs().max().item<double>() < 1e-12);
        TensorAssert.Close(y, layer.call(X + 5), atol: 1e-12);
    }
}
