using NormLab.Framework;
using NormLab.Layers;
using NormLab.Operations;
using NormLab.Recoveries;
using TorchSharp;
using static TorchSharp.torch;
using Layout = NormLab.Tests.Kernels.KernelHarness.Layout;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused row kernel (BN, IN, GN, BGN, LN, RMSNorm, mean-only BN and hand-composed relatives) against
/// the composite reference: float64 to 1e-10 and float32 to 1e-4, outputs, input and parameter
/// gradients, running statistics after three training steps, and eval. Shapes are odd on purpose:
/// rows not a multiple of the vector width, single-element rows and statistics, strided inputs.
/// </summary>
public class RowKernelTests : KernelCaseTests<RowKernelTests>, IKernelCases
{
    public static IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> All { get; } = new Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)>
    {
        ["bn2d"] = (() => StandardNorms.BatchNorm2d(5), new long[] { 3, 5, 7, 9 }),
        ["bn2d-momentum-null"] = (() => StandardNorms.BatchNorm2d(3, momentum: null), new long[] { 4, 3, 5, 3 }),
        ["bn2d-1x1"] = (() => StandardNorms.BatchNorm2d(3), new long[] { 4, 3, 1, 1 }),
        ["bn1d-2d"] = (() => StandardNorms.BatchNorm1d(5), new long[] { 6, 5 }),
        ["bn1d-3d"] = (() => StandardNorms.BatchNorm1d(4, affine: false), new long[] { 3, 4, 17 }),
        ["bn3d"] = (() => StandardNorms.BatchNorm3d(3), new long[] { 2, 3, 3, 4, 5 }),
        ["in-track"] = (() => StandardNorms.InstanceNorm(4, affine: true, track_running_stats: true), new long[] { 3, 4, 5, 7 }),
        ["in-plain"] = (() => StandardNorms.InstanceNorm(3), new long[] { 2, 3, 11 }),
        ["gn"] = (() => StandardNorms.GroupNorm(2, 6), new long[] { 3, 6, 5, 7 }),
        ["gn-1"] = (() => StandardNorms.GroupNorm(1, 6), new long[] { 3, 6, 3, 3 }),
        ["gn-single-element"] = (() => StandardNorms.GroupNorm(8, 8), new long[] { 5, 8 }),
        ["bgn"] = (() => StandardNorms.BatchGroupNorm(3, 6), new long[] { 4, 6, 5, 3 }),
        ["bgn-cumulative"] = (() => StandardNorms.BatchGroupNorm(2, 4, momentum: null, affine: false), new long[] { 2, 4, 9 }),
        ["ln-last"] = (() => StandardNorms.LayerNorm(new long[] { 7 }), new long[] { 3, 5, 7 }),
        ["ln-two"] = (() => StandardNorms.LayerNorm(new long[] { 5, 7 }), new long[] { 3, 5, 7 }),
        ["ln-no-bias"] = (() => StandardNorms.LayerNorm(new long[] { 4, 3, 5 }, bias: false), new long[] { 2, 4, 3, 5 }),
        ["ln-single-element"] = (() => StandardNorms.LayerNorm(new long[] { 1 }), new long[] { 4, 3, 1 }),
        ["ln-long-rows"] = (() => StandardNorms.LayerNorm(new long[] { 4, 70, 70 }), new long[] { 2, 4, 70, 70 }),
        ["rms"] = (() => StandardNorms.RMSNorm(new long[] { 13 }), new long[] { 3, 4, 13 }),
        ["rms-long-rows"] = (() => StandardNorms.RMSNorm(new long[] { 4, 70, 70 }, 1e-6), new long[] { 2, 4, 70, 70 }),
        ["rms-eps-no-affine"] = (() => StandardNorms.RMSNorm(new long[] { 5, 7 }, 1e-6, elementwise_affine: false), new long[] { 2, 5, 7 }),
        ["meanbn"] = (() => StandardNorms.MeanOnlyBatchNorm(5), new long[] { 3, 5, 4, 3 }),
        ["scaling-batch-track"] = (() => new Normalizer("ScaledBatch", ReductionArea.Batch(4), new Scaling(1e-3, 2.0, 0.75),
            AffineRecovery.PerChannel(4), trackRunningStats: true), new long[] { 3, 4, 5, 2 }),
        ["unbiased-group-track"] = (() => new Normalizer("UnbiasedGroup", ReductionArea.Group(6, 3), new Standardization(1e-4, unbiasedVariance: true),
            AffineRecovery.PerChannel(6), trackRunningStats: true, momentum: 0.3), new long[] { 3, 6, 4, 5 }),
        ["per-channel-over-batch-space"] = (() => new Normalizer("BatchSpace", new ReductionArea(6, 2, ViewAxes.Batch | ViewAxes.Space), new Standardization(),
            AffineRecovery.PerChannel(6), trackRunningStats: true), new long[] { 3, 6, 5, 2 }),
    };

    [Theory]
    [InlineData("bn2d", Layout.ChannelsLast)]
    [InlineData("gn", Layout.ChannelsLast)]
    [InlineData("in-track", Layout.Transposed)]
    [InlineData("ln-two", Layout.Transposed)]
    [InlineData("rms", Layout.Transposed)]
    [InlineData("bgn", Layout.ChannelsLast)]
    public void Fused_takes_strided_inputs(string name, Layout layout)
    {
        var (make, shape) = Cases[name];
        KernelHarness.Compare(make, shape, ScalarType.Float64, layout);
    }

    [Fact]
    public void Expanded_output_gradient_is_accepted()
    {
        // y.sum().backward() hands the backward a stride-0 gradient.
        var layer = StandardNorms.GroupNorm(2, 4);
        layer.to(ScalarType.Float64);
        var x = new Support.Rand(3).Features(2, 4, 3, 5).requires_grad_(true);
        var xr = x.detach().clone().requires_grad_(true);
        layer.call(x).sum().backward();
        using (KernelPolicy.Use(KernelMode.Composite)) layer.call(xr).sum().backward();
        Support.TensorAssert.Close(xr.grad!, x.grad!, 1e-10, 1e-12, "input gradient");
    }

    [Fact]
    public void Frozen_input_still_gets_parameter_gradients()
    {
        var make = () => StandardNorms.BatchNorm2d(3);
        var reference = make();
        var fused = make();
        var x = new Support.Rand(4).Features(2, 3, 4, 4);
        var g = new Support.Rand(5).Normal(2, 3, 4, 4);
        foreach (var m in new[] { reference, fused }) m.to(ScalarType.Float64);
        using (KernelPolicy.Use(KernelMode.Composite)) (reference.call(x) * g).sum().backward();
        (fused.call(x) * g).sum().backward();
        Support.TensorAssert.Close(reference.get_parameter("weight")!.grad!, fused.get_parameter("weight")!.grad!, 1e-10, 1e-12, "weight gradient");
        Support.TensorAssert.Close(reference.get_parameter("bias")!.grad!, fused.get_parameter("bias")!.grad!, 1e-10, 1e-12, "bias gradient");
    }
}
