using NormLab.Framework;
using NormLab.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Layers;

/// <summary>
/// Normalizers without a LibTorch op against plain formulas written here in float64 (1e-10 relative):
/// RMSNorm, batch group normalization, positional normalization and mean-only batch normalization.
/// </summary>
public class FormulaReferenceTests
{
    private static readonly KernelMode[] Modes = { KernelMode.Composite, KernelMode.Auto };

    [Theory]
    [InlineData(new long[] { 4, 6, 8 }, 1, null)]
    [InlineData(new long[] { 4, 6, 8 }, 2, 1e-6)]
    [InlineData(new long[] { 2, 3, 4, 5 }, 3, 1e-3)]
    public void RMSNorm_matches_formula(long[] shape, int dims, double? eps)
    {
        var normalized = shape[^dims..];
        var reduce = Enumerable.Range(shape.Length - dims, dims).Select(d => (long)d).ToArray();
        double e = eps ?? Math.Pow(2, -52);
        foreach (var mode in Modes)
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.RMSNorm(normalized, eps);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 5);
            var rand = new Rand(11);
            NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand,
                (x, w, b) => x / (x.square().mean(reduce, keepdim: true) + e).sqrt() * w!);
        }
    }

    [Theory]
    [InlineData(new long[] { 4, 6, 5 }, 3)]
    [InlineData(new long[] { 3, 8, 4, 3 }, 2)]
    [InlineData(new long[] { 3, 8, 4, 3 }, 1)]
    [InlineData(new long[] { 6, 4 }, 2)]
    public void BatchGroupNorm_matches_formula_with_running_stats(long[] shape, long groups)
    {
        foreach (var mode in Modes)
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.BatchGroupNorm(groups, shape[1], momentum: 0.25);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 6);
            var rand = new Rand(12);
            var runMean = zeros(groups, ScalarType.Float64);
            var runVar = ones(groups, ScalarType.Float64);
            for (int step = 0; step < 3; step++)
            {
                NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand, (x, w, b) =>
                {
                    var g = x.reshape(x.shape[0], groups, -1);
                    var mean = g.mean(new long[] { 0, 2 }, keepdim: true);
                    var variance = (g - mean).square().mean(new long[] { 0, 2 }, keepdim: true);
                    long n = g.shape[0] * g.shape[2];
                    using (no_grad())
                    {
                        runMean.mul_(0.75).add_(mean.flatten() * 0.25);
                        runVar.mul_(0.75).add_(variance.flatten() * (n / (n - 1.0)) * 0.25);
                    }
                    return ChannelAffine(((g - mean) / (variance + 1e-5).sqrt()).reshape(x.shape), w!, b!);
                });
            }
            TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
            TensorAssert.Close(runVar, layer.get_buffer("running_var")!, what: "running_var");
            layer.eval();
            NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand, (x, w, b) =>
            {
                var g = x.reshape(x.shape[0], groups, -1);
                var y = (g - runMean.view(1, groups, 1)) / (runVar.view(1, groups, 1) + 1e-5).sqrt();
                return ChannelAffine(y.reshape(x.shape), w!, b!);
            });
        }
    }

    [Theory]
    [InlineData(new long[] { 3, 5, 4, 6 }, true)]
    [InlineData(new long[] { 3, 5, 4, 6 }, false)]
    [InlineData(new long[] { 4, 6, 7 }, true)]
    [InlineData(new long[] { 5, 6 }, false)]
    public void PositionalNorm_matches_the_reference_formula(long[] shape, bool unbiased)
    {
        foreach (var mode in Modes)
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.PositionalNorm(shape[1], 1e-5, affine: true, unbiased: unbiased);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 7);
            var rand = new Rand(13);
            NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand, (x, w, b) =>
            {
                var mean = x.mean(new long[] { 1 }, keepdim: true);
                var variance = x.var(1, unbiased: unbiased, keepdim: true);
                return ChannelAffine((x - mean) / (variance + 1e-5).sqrt(), w!, b!);
            });
        }
    }

    [Theory]
    [InlineData(new long[] { 4, 6 })]
    [InlineData(new long[] { 3, 5, 4, 6 })]
    public void MeanOnlyBatchNorm_matches_formula(long[] shape)
    {
        foreach (var mode in Modes)
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.MeanOnlyBatchNorm(shape[1], momentum: 0.1);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 8);
            var rand = new Rand(14);
            var dims = Enumerable.Range(0, shape.Length).Where(d => d != 1).Select(d => (long)d).ToArray();
            var bshape = shape.Select((s, i) => i == 1 ? s : 1L).ToArray();
            var runMean = zeros(shape[1], ScalarType.Float64);
            NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand, (x, w, b) =>
            {
                var mean = x.mean(dims, keepdim: true);
                using (no_grad()) runMean.mul_(0.9).add_(mean.flatten() * 0.1);
                return x - mean + b!.view(bshape);
            });
            TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
            Assert.Null(layer.get_parameter("weight"));
            layer.eval();
            NativeConformanceTests.CompareStep(layer, rand.Features(shape), rand, (x, w, b) => x - runMean.view(bshape) + b!.view(bshape));
        }
    }

    private static Tensor ChannelAffine(Tensor y, Tensor w, Tensor b)
    {
        var shape = y.shape.Select((s, i) => i == 1 ? s : 1L).ToArray();
        return y * w.view(shape) + b.view(shape);
    }
}
