using NormLab.Kernels.Cpu;
using NormLab.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The row, column, switchable and whitening kernels with streaming stores (<see cref="StreamingStores"/>) forced on for every output, and
/// the row-major schedule of batch statistics (<see cref="RowStreaming"/>: BN, BGN), which only large statistics take. Rows are an odd
/// number of elements, so most rows start off the 32-byte alignment that streaming stores need and the
/// scalar head and tail run. Compared with the composite in float64 and float32.
/// </summary>
public class StreamingKernelTests
{
    /// <summary>BN with 3 × 131 × 89 = 34,977 values per statistic: 137 KB in float32, above <see cref="RowStreaming.StatBytes"/>.</summary>
    private static readonly long[] LargeStatistic = { 3, 2, 131, 89 };

    private static readonly Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> Cases = new()
    {
        ["bn"] = (() => StandardNorms.BatchNorm2d(5), new long[] { 3, 5, 7, 9 }),
        ["bn-large-statistic"] = (() => StandardNorms.BatchNorm2d(2), LargeStatistic),
        ["bn-large-statistic-no-affine"] = (() => StandardNorms.BatchNorm2d(2, affine: false), LargeStatistic),
        ["in"] = (() => StandardNorms.InstanceNorm(4, affine: true, track_running_stats: true), new long[] { 3, 4, 5, 7 }),
        ["gn"] = (() => StandardNorms.GroupNorm(2, 6), new long[] { 3, 6, 5, 7 }),
        ["bgn"] = (() => StandardNorms.BatchGroupNorm(3, 6), new long[] { 4, 6, 5, 3 }),
        ["bgn-large-statistic"] = (() => StandardNorms.BatchGroupNorm(2, 4), new long[] { 3, 4, 131, 89 }),
        ["ln-long-rows"] = (() => StandardNorms.LayerNorm(new long[] { 4, 70, 71 }), new long[] { 2, 4, 70, 71 }),
        ["rms"] = (() => StandardNorms.RMSNorm(new long[] { 13 }), new long[] { 3, 4, 13 }),
        ["pn"] = (() => StandardNorms.PositionalNorm(7, affine: true), new long[] { 2, 7, 37, 29 }),
        ["sn"] = (() => MultiModeNorms.SwitchNorm(5), new long[] { 3, 5, 7, 9 }),
        ["zca"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 6, group: 3), new long[] { 4, 6, 5, 7 }),
        ["instance-zca"] = (() => WhiteningNorms.InstanceWhitening(WhiteningMethod.Zca, 6, group: 3), new long[] { 3, 6, 7, 9 }),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Streaming_stores_match_composite_in_float64(string name)
    {
        var (make, shape) = Cases[name];
        using var _ = StreamingStores.StreamFrom(0);
        KernelHarness.Compare(make, shape, ScalarType.Float64, trainSteps: 2);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Streaming_stores_match_composite_in_float32(string name)
    {
        var (make, shape) = Cases[name];
        using var _ = StreamingStores.StreamFrom(0);
        KernelHarness.Compare(make, shape, ScalarType.Float32, trainSteps: 2);
    }

    [Fact]
    public void Large_batch_statistics_take_the_row_major_schedule()
    {
        long values = LargeStatistic[0] * LargeStatistic[2] * LargeStatistic[3];
        var bn = new RowLayout(LargeStatistic[0], LargeStatistic[1], 1, values / LargeStatistic[0], reduceA: true, reduceCg: false);
        Assert.True(RowStreaming.Applies(bn, AffineKind.PerChannel, sizeof(float)));
        var small = new RowLayout(3, 5, 1, 63, reduceA: true, reduceCg: false);
        Assert.False(RowStreaming.Applies(small, AffineKind.PerChannel, sizeof(double)));
        var bgn = new RowLayout(LargeStatistic[0], 2, 2, values / LargeStatistic[0], reduceA: true, reduceCg: true);
        Assert.True(RowStreaming.Applies(bgn, AffineKind.PerChannel, sizeof(float)));
        var gn = new RowLayout(3, 2, 3, values, reduceA: false, reduceCg: true);
        Assert.False(RowStreaming.Applies(gn, AffineKind.PerChannel, sizeof(double)));
    }

    [Fact]
    public void Large_batch_statistics_match_composite_without_streaming_stores()
    {
        using var _ = StreamingStores.StreamFrom(long.MaxValue);
        KernelHarness.Compare(Cases["bn-large-statistic"].Make, LargeStatistic, ScalarType.Float64, trainSteps: 2);
    }
}
