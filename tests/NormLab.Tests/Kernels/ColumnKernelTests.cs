using NormLab.Framework;
using NormLab.Layers;
using NormLab.Operations;
using NormLab.Recoveries;
using TorchSharp;
using static TorchSharp.torch;
using Layout = NormLab.Tests.Kernels.KernelHarness.Layout;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused column kernel (positional normalization: statistics over the channels at each position)
/// against the composite: float64 to 1e-10, float32 to 1e-4, tiles not a multiple of the vector width,
/// positions spanning several tiles, a single position, channel groups, strided inputs.
/// </summary>
public class ColumnKernelTests : KernelCaseTests<ColumnKernelTests>, IKernelCases
{
    public static IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> All { get; } = new Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)>
    {
        ["pn"] = (() => StandardNorms.PositionalNorm(5), new long[] { 3, 5, 7, 9 }),
        ["pn-affine-biased-two-tiles"] = (() => StandardNorms.PositionalNorm(6, affine: true, unbiased: false), new long[] { 2, 6, 1100 }),
        ["pn-one-position"] = (() => StandardNorms.PositionalNorm(5, affine: true), new long[] { 4, 5 }),
        ["grouped-channels"] = (() => new Normalizer("GroupedPositional", new ReductionArea(6, 2, ViewAxes.Channel), new Standardization(1e-4),
            AffineRecovery.PerChannel(6)), new long[] { 3, 6, 4, 5 }),
        ["rms-over-channels"] = (() => new Normalizer("PositionalRms", ReductionArea.Positional(4), new Scaling(1e-6),
            new IdentityRecovery()), new long[] { 2, 4, 3, 7 }),
    };

    [Theory]
    [InlineData(Layout.ChannelsLast)]
    [InlineData(Layout.Transposed)]
    public void Fused_takes_strided_inputs(Layout layout)
    {
        var (make, shape) = Cases["pn"];
        KernelHarness.Compare(make, shape, ScalarType.Float64, layout);
    }
}
