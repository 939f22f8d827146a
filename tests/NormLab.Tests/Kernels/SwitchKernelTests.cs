using NormLab.Layers;
using TorchSharp;
using static TorchSharp.torch;
using Layout = NormLab.Tests.Kernels.KernelHarness.Layout;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused switchable-normalization kernel against the composite: outputs, input gradients, the
/// gradients of γ, β and both sets of mixing logits, the running BN moments, and eval with them.
/// </summary>
public class SwitchKernelTests : KernelCaseTests<SwitchKernelTests>, IKernelCases
{
    public static IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> All { get; } = new Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)>
    {
        ["sn"] = (() => MultiModeNorms.SwitchNorm(5), new long[] { 3, 5, 7, 9 }),
        ["sn-no-bn"] = (() => MultiModeNorms.SwitchNorm(4, using_bn: false, affine: false), new long[] { 2, 4, 3, 5 }),
        ["sn-3d-cumulative"] = (() => MultiModeNorms.SwitchNorm(3, momentum: null, rank: 3), new long[] { 4, 3, 11 }),
        ["sn-5d"] = (() => MultiModeNorms.SwitchNorm(2, rank: 5), new long[] { 2, 2, 3, 2, 3 }),
    };

    [Fact]
    public void Fused_takes_channels_last_inputs()
    {
        var (make, shape) = Cases["sn"];
        KernelHarness.Compare(make, shape, ScalarType.Float64, Layout.ChannelsLast);
    }

    [Fact]
    public void SwitchNorm1d_keeps_the_composite()
    {
        KernelHarness.Compare(() => MultiModeNorms.SwitchNorm(4, rank: 2), new long[] { 6, 4 }, ScalarType.Float64, expectFused: false);
    }
}
