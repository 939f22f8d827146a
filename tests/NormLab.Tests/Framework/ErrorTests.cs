using NormLab.Layers;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Framework;

/// <summary>Bad arguments and inputs give one-line errors that name the parameter, the value and what is allowed.</summary>
public class ErrorTests
{
    private static void OneLine(Exception e, params string[] fragments)
    {
        Assert.DoesNotContain('\n', e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void Groups_that_do_not_divide_C()
    {
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("gn(groups=5)", 64, 8, 8)), "groups (5) must divide num_channels (64)");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => StandardNorms.BatchGroupNorm(3, 16)), "groups (3)", "16");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("gn(groups=0)", 8)), "groups (0) must be at least 1");
    }

    [Theory]
    [InlineData("bn")]
    [InlineData("in")]
    [InlineData("gn(groups=2)")]
    [InlineData("bgn(groups=2)")]
    [InlineData("pn")]
    [InlineData("meanbn")]
    public void Wrong_channel_count(string spec)
    {
        var layer = NormRegistry.Create(spec, 4, 5, 5);
        OneLine(Assert.ThrowsAny<ArgumentException>(() => layer.call(zeros(2, 6, 5, 5))), "6 channels", "num_channels = 4");
    }

    [Fact]
    public void Wrong_trailing_shape_for_layer_types()
    {
        var ln = NormRegistry.Create("ln", 4, 5, 5);
        OneLine(Assert.ThrowsAny<ArgumentException>(() => ln.call(zeros(2, 4, 5, 6))), "must end with normalized_shape [4, 5, 5]");
        var rms = NormRegistry.Create("rms(dims=1)", 4, 7);
        OneLine(Assert.ThrowsAny<ArgumentException>(() => rms.call(zeros(2, 4, 6))), "normalized_shape [7]");
    }

    [Theory]
    [InlineData("bn")]
    [InlineData("ln")]
    [InlineData("gn(groups=2)")]
    [InlineData("rms")]
    public void Wrong_number_of_dims(string spec)
    {
        var layer = NormRegistry.Create(spec, 4, 5, 5);
        OneLine(Assert.ThrowsAny<ArgumentException>(() => layer.call(zeros(2, 4, 5))), "3 dims", "expects 4 dims");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => StandardNorms.BatchNorm2d(4).call(zeros(2, 4))), "2 dims");
    }

    [Theory]
    [InlineData("bn", 1, 1)]
    [InlineData("bgn(groups=4)", 1, 1)]
    [InlineData("in", 3, 1)]
    public void Batch_statistics_with_one_value_per_statistic_in_training(string spec, long n, long spatial)
    {
        var layer = NormRegistry.Create(spec, 4, spatial);
        OneLine(Assert.ThrowsAny<ArgumentException>(() => layer.call(ones(n, 4, spatial))), "1 value per statistic", "input");
        layer.eval();
        if (spec != "in") Assert.Equal(new long[] { n, 4, spatial }, layer.call(ones(n, 4, spatial)).shape);
    }

    [Theory]
    [InlineData("nope", "unknown normalizer 'nope'", "bn, ln, in, gn")]
    [InlineData("gn(grups=2)", "unknown key 'grups' for 'gn'", "groups=32")]
    [InlineData("bn(eps=abc)", "eps must be a number", "'abc'")]
    [InlineData("bn(affine=maybe)", "affine must be true or false")]
    [InlineData("gn(groups=2", "expected ',' or ')'")]
    [InlineData("gn(groups=2)x", "unexpected text")]
    [InlineData("gn(groups=2,groups=4)", "given twice")]
    [InlineData("", "spec is empty")]
    public void Bad_specs(string spec, params string[] fragments)
    {
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create(spec, 8, 4, 4)), fragments);
    }

    [Theory]
    [InlineData("bn(momentum=1.5)", "momentum (1.5) must be in [0, 1]")]
    [InlineData("bn(eps=-1)", "eps (-1) must be a finite number >= 0")]
    [InlineData("ln(dims=4)", "dims (4) must be between 1 and the number of feature dims (3)")]
    [InlineData("pn", "num_channels (1) must be at least 2")]
    public void Bad_values(string spec, string fragment)
    {
        long c = spec == "pn" ? 1 : 8;
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create(spec, c, 4, 4)), fragment);
    }

    [Fact]
    public void Bad_feature_shapes()
    {
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("bn")), "featureShape");
        OneLine(Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create("bn", 0, 4)), "positive sizes");
    }
}
