using NormLab.Kernels;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>The one way the fused kernels turn float64 sums into a parameter gradient of the layer's shape and dtype.</summary>
public class FusedGradientTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void Gradient_holds_the_values_rounded_once_in_the_requested_shape_and_dtype(ScalarType dtype)
    {
        var values = Enumerable.Range(0, 11).Select(i => Math.PI * (i - 5) / 3).ToArray();
        using var g = FusedKernels.Gradient(values, new long[] { 1, 11, 1, 1 }, dtype);
        Assert.Equal(new long[] { 1, 11, 1, 1 }, g.shape);
        Assert.Equal(dtype, g.dtype);
        using var reference = tensor(values).to(dtype).reshape(1, 11, 1, 1);
        Assert.True(g.eq(reference).all().item<bool>());
    }

    [Fact]
    public void Gradient_rejects_a_shape_that_does_not_hold_the_values()
    {
        var e = Assert.Throws<ArgumentException>(() => FusedKernels.Gradient(new double[6], new long[] { 2, 4 }, ScalarType.Float32));
        Assert.Contains("[2, 4]", e.Message);
        Assert.Contains("8", e.Message);
        Assert.Contains("6", e.Message);
    }
}
