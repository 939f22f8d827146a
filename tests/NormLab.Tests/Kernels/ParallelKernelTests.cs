using NormLab.Kernels.Cpu;
using NormLab.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused kernels on their multi-threaded path. The other kernel tests run with one LibTorch thread,
/// and their small shapes stay below <see cref="KernelParallel.MinParallelElements"/>. These tests use
/// two threads and inputs above that threshold, so the work is split into chunks, and per-thread
/// accumulators (dγ, dβ of long rows) are reduced. Each is compared with the composite in float64.
/// </summary>
public class ParallelKernelTests
{
    private static readonly long[] Image = { 4, 8, 192, 192 };

    private static readonly Dictionary<string, Func<nn.Module<Tensor, Tensor>>> Cases = new()
    {
        ["bn"] = () => StandardNorms.BatchNorm2d(8),
        ["in"] = () => StandardNorms.InstanceNorm(8, affine: true, track_running_stats: true),
        ["gn"] = () => StandardNorms.GroupNorm(4, 8),
        ["bgn"] = () => StandardNorms.BatchGroupNorm(4, 8),
        ["ln-long-rows"] = () => StandardNorms.LayerNorm(new long[] { 8, 192, 192 }),
        ["rms-long-rows"] = () => StandardNorms.RMSNorm(new long[] { 8, 192, 192 }, 1e-6),
        ["pn"] = () => StandardNorms.PositionalNorm(8, affine: true),
        ["sn"] = () => MultiModeNorms.SwitchNorm(8),
        ["zca"] = () => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 8, group: 4),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Fused_matches_composite_when_the_work_is_split_across_threads(string name)
    {
        Assert.True(Image.Aggregate(1L, (a, b) => a * b) >= KernelParallel.MinParallelElements, "the input must be above the parallel threshold");
        int threads = get_num_threads();
        set_num_threads(2);
        try
        {
            Assert.True(KernelParallel.Chunks(Image[0] * Image[1], Image[2] * Image[3]) > 1, "the work is not split");
            KernelHarness.Compare(Cases[name], Image, ScalarType.Float64, trainSteps: 2);
        }
        finally
        {
            set_num_threads(threads);
        }
    }
}
