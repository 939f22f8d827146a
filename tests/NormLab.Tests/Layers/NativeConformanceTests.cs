using NormLab.Framework;
using NormLab.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Layers;

/// <summary>
/// The standard layers against LibTorch's native ops in float64 (1e-10 relative): outputs, input and
/// parameter gradients, and running statistics after several training steps, then eval mode. Each check
/// runs the composite reference and the automatically chosen kernel.
/// </summary>
public class NativeConformanceTests
{
    public static TheoryData<string, long[]> BatchNormCases => new()
    {
        { "1d-2D", new long[] { 6, 5 } },
        { "1d-3D", new long[] { 4, 5, 7 } },
        { "2d", new long[] { 3, 4, 5, 6 } },
        { "3d", new long[] { 2, 3, 3, 4, 5 } },
    };

    private static Normalizer BatchNormFor(long[] shape, double? momentum, bool affine) => shape.Length switch
    {
        2 or 3 => StandardNorms.BatchNorm1d(shape[1], 1e-5, momentum, affine),
        4 => StandardNorms.BatchNorm2d(shape[1], 1e-5, momentum, affine),
        _ => StandardNorms.BatchNorm3d(shape[1], 1e-5, momentum, affine),
    };

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNorm_matches_native_in_train_and_eval(string name, long[] shape)
    {
        _ = name;
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        foreach (var momentum in new double?[] { 0.1, 0.3, null })
        foreach (var affine in new[] { true, false })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = BatchNormFor(shape, momentum, affine);
            layer.to(ScalarType.Float64);
            Randomize(layer, 1);
            var runMean = zeros(shape[1], ScalarType.Float64);
            var runVar = ones(shape[1], ScalarType.Float64);
            var rand = new Rand(7);
            for (int step = 1; step <= 3; step++)
            {
                double m = momentum ?? 1.0 / step;
                var x = rand.Features(shape);
                CompareStep(layer, x, rand,
                    (xi, w, b) => F.batch_norm(xi, runMean, runVar, w, b, training: true, momentum: m, eps: 1e-5));
            }
            TensorAssert.Close(runMean, layer.get_buffer("running_mean")!, what: "running_mean");
            TensorAssert.Close(runVar, layer.get_buffer("running_var")!, what: "running_var");
            Assert.Equal(3, layer.get_buffer("num_batches_tracked")!.item<long>());

            layer.eval();
            var xe = rand.Features(shape);
            CompareStep(layer, xe, rand, (xi, w, b) => F.batch_norm(xi, runMean, runVar, w, b, training: false, eps: 1e-5));
        }
    }

    [Theory]
    [InlineData(new long[] { 4, 6, 5 }, 1)]
    [InlineData(new long[] { 3, 4, 5, 6 }, 2)]
    [InlineData(new long[] { 3, 4, 5, 6 }, 3)]
    [InlineData(new long[] { 2, 3, 2, 3, 4 }, 4)]
    public void LayerNorm_matches_native(long[] shape, int dims)
    {
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        foreach (var affine in new[] { true, false })
        {
            using var _ = KernelPolicy.Use(mode);
            var normalized = shape[^dims..];
            var layer = StandardNorms.LayerNorm(normalized, 1e-5, affine);
            layer.to(ScalarType.Float64);
            Randomize(layer, 2);
            var rand = new Rand(8);
            CompareStep(layer, rand.Features(shape), rand, (xi, w, b) => F.layer_norm(xi, normalized, w, b, 1e-5), channelAffine: false);
        }
    }

    [Theory]
    [InlineData(new long[] { 4, 6, 5 }, 3)]
    [InlineData(new long[] { 3, 6, 5, 4 }, 2)]
    [InlineData(new long[] { 3, 6, 5, 4 }, 6)]
    [InlineData(new long[] { 3, 6, 5, 4 }, 1)]
    [InlineData(new long[] { 2, 4, 2, 3, 4 }, 2)]
    [InlineData(new long[] { 5, 8 }, 4)]
    public void GroupNorm_matches_native(long[] shape, long groups)
    {
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.GroupNorm(groups, shape[1]);
            layer.to(ScalarType.Float64);
            Randomize(layer, 3);
            var rand = new Rand(9);
            CompareStep(layer, rand.Features(shape), rand, (xi, w, b) => F.group_norm(xi, groups, w, b, 1e-5));
            layer.eval();
            CompareStep(layer, rand.Features(shape), rand, (xi, w, b) => F.group_norm(xi, groups, w, b, 1e-5));
        }
    }

    [Theory]
    [InlineData(new long[] { 4, 3, 7 })]
    [InlineData(new long[] { 3, 4, 5, 6 })]
    [InlineData(new long[] { 2, 3, 3, 4, 5 })]
    public void InstanceNorm_matches_native_with_and_without_running_stats(long[] shape)
    {
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        foreach (var track in new[] { true, false })
        foreach (var momentum in new double?[] { 0.2, null })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = StandardNorms.InstanceNorm(shape[1], 1e-5, momentum, affine: true, track_running_stats: track);
            layer.to(ScalarType.Float64);
            Randomize(layer, 4);
            var runMean = track ? zeros(shape[1], ScalarType.Float64) : null;
            var runVar = track ? ones(shape[1], ScalarType.Float64) : null;
            var rand = new Rand(10);
            for (int step = 1; step <= 3; step++)
            {
                double m = momentum ?? 1.0 / step;
                CompareStep(layer, rand.Features(shape), rand,
                    (xi, w, b) => F.instance_norm(xi, runMean, runVar, w, b, use_input_stats: true, momentum: m, eps: 1e-5));
            }
            layer.eval();
            var xe = rand.Features(shape);
            if (track)
            {
                TensorAssert.Close(runMean!, layer.get_buffer("running_mean")!, what: "running_mean");
                TensorAssert.Close(runVar!, layer.get_buffer("running_var")!, what: "running_var");
                CompareStep(layer, xe, rand, (xi, w, b) => F.instance_norm(xi, runMean, runVar, w, b, use_input_stats: false, eps: 1e-5));
            }
            else
            {
                CompareStep(layer, xe, rand, (xi, w, b) => F.instance_norm(xi, null, null, w, b, use_input_stats: true, eps: 1e-5));
            }
        }
    }

    /// <summary>Gives γ and β non-trivial values so the parameter gradients are exercised.</summary>
    internal static void Randomize(nn.Module layer, long seed)
    {
        var rand = new Rand(seed);
        using var _ = no_grad();
        foreach (var (name, p) in layer.named_parameters())
            p.copy_(rand.Uniform(name == "weight" ? 0.5 : -1, name == "weight" ? 2 : 1, p.shape));
    }

    /// <summary>
    /// One forward and backward of the layer and of the reference on clones of x; compares y, dx, dγ, dβ.
    /// </summary>
    internal static void CompareStep(nn.Module<Tensor, Tensor> layer, Tensor x, Rand rand,
        Func<Tensor, Tensor?, Tensor?, Tensor> reference, bool channelAffine = true)
    {
        _ = channelAffine;
        var w = layer.get_parameter("weight");
        var b = layer.get_parameter("bias");
        var wr = w?.detach().clone().requires_grad_(true);
        var br = b?.detach().clone().requires_grad_(true);
        var x1 = x.detach().clone().requires_grad_(true);
        var x2 = x.detach().clone().requires_grad_(true);
        layer.zero_grad();
        var y = layer.call(x1);
        var yr = reference(x2, wr, br);
        TensorAssert.Close(yr, y, what: "output");
        var g = rand.Normal(y.shape);
        (y * g).sum().backward();
        (yr * g).sum().backward();
        TensorAssert.Close(x2.grad!, x1.grad!, what: "input gradient");
        if (w is not null) TensorAssert.Close(wr!.grad!, w.grad!, what: "weight gradient");
        if (b is not null) TensorAssert.Close(br!.grad!, b.grad!, what: "bias gradient");
    }
}
