using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Tests.Support;
using NormLab.Layers;
using NormLab.Operations;
using NormLab.Recoveries;
using TorchSharp;
using static TorchSharp.torch;
using Layout = NormLab.Tests.Kernels.KernelHarness.Layout;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused whitening kernel (batch and instance whitening, every matrix function, both running
/// estimates) against the composite: outputs, input gradients through the covariance and the matrix
/// function, γ and β gradients, running mean and matrix, and eval with them. Sample counts are not a
/// multiple of the vector width or the tile, and one block is long enough for the copy's prefetched tiles.
/// </summary>
public class WhiteningKernelTests : KernelCaseTests<WhiteningKernelTests>, IKernelCases
{
    public static IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)> All { get; } = new Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Make, long[] Shape)>
    {
        ["zca"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 6, group: 3), new long[] { 4, 6, 5, 3 }),
        ["pca"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Pca, 4, group: 2), new long[] { 5, 4, 3, 3 }),
        ["cd"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Cholesky, 6, group: 3), new long[] { 4, 6, 7 }),
        ["itn"] = (() => WhiteningNorms.IterNorm(6, group: 3, T: 4), new long[] { 3, 6, 5, 5 }),
        ["zca-cov-cumulative"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 6, group: 2, momentum: null, track: WhiteningTrack.Covariance), new long[] { 4, 6, 3, 5 }),
        ["zca-group-1-no-affine"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 3, group: 1, affine: false), new long[] { 4, 3, 3, 3 }),
        ["zca-two-tiles"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 4, group: 4), new long[] { 2, 4, 70 }),
        ["zca-prefetched-tiles"] = (() => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 4, group: 4), new long[] { 2, 4, 1500 }),
        ["iw-zca"] = (() => WhiteningNorms.InstanceWhitening(WhiteningMethod.Zca, 6, group: 3), new long[] { 3, 6, 7, 5 }),
        ["iw-itn-track"] = (() => WhiteningNorms.InstanceWhitening(WhiteningMethod.IterNorm, 4, group: 2, track_running_stats: true), new long[] { 3, 4, 5, 4 }),
    };

    /// <summary>Eigenvector signs of PCA are not stable under float32 rounding, so float32 runs the other methods.</summary>
    public static IEnumerable<string> NotInFloat32 => ["pca"];

    [Fact]
    public void Fused_takes_channels_last_inputs()
    {
        var (make, shape) = Cases["zca"];
        KernelHarness.Compare(make, shape, ScalarType.Float64, Layout.ChannelsLast);
    }

    /// <summary>
    /// With a mean 1,000 times the spread, float32 fused whitening still matches the float64 composite, in the
    /// output and in dx: the fused statistics take each block's Gram of centered (or shifted) values. Taken of
    /// the raw values in float32, Σ = E[xxᵀ] − μμᵀ loses its digits, and this test fails (output off by 0.2–0.5).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float32_whitening_holds_for_inputs_far_from_zero(bool instance)
    {
        nn.Module<Tensor, Tensor> Make() => instance
            ? WhiteningNorms.InstanceWhitening(WhiteningMethod.Zca, 8, group: 4)
            : WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 8, group: 4);
        var reference = Make().to(ScalarType.Float64);
        var fused = Make().to(ScalarType.Float32);
        KernelHarness.Randomize(reference, 3);
        KernelHarness.Randomize(fused, 3);
        var rand = new Rand(7);
        var x = (rand.Normal(new long[] { 4, 8, 40, 40 }) + 1000.0).to(ScalarType.Float64);
        var g = rand.Normal(new long[] { 4, 8, 40, 40 }).to(ScalarType.Float64);
        var xr = x.clone().requires_grad_(true);
        var xf = x.to(ScalarType.Float32).requires_grad_(true);
        Tensor yr, yf;
        using (KernelPolicy.Use(KernelMode.Composite)) yr = reference.call(xr);
        long before = FusedKernels.Calls;
        using (KernelPolicy.Use(KernelMode.Fused)) yf = fused.call(xf);
        Assert.True(FusedKernels.Calls > before, "the fused kernel did not run");
        (yr * g).sum().backward();
        (yf * g.to(ScalarType.Float32)).sum().backward();
        TensorAssert.Close(yr, yf.to(ScalarType.Float64), 1e-3, 1e-3, "output");
        TensorAssert.Close(xr.grad!, xf.grad!.to(ScalarType.Float64), 1e-3, 1e-3, "input gradient");
    }

    /// <summary>A non-finite input makes Σ non-finite: the fused kernel declines, and the layer gives the composite's all-NaN output and keeps its running estimate.</summary>
    [Fact]
    public void A_non_finite_input_gives_nan_output_and_keeps_the_running_estimate()
    {
        var layer = WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 6, group: 3).to(ScalarType.Float64);
        var before = layer.named_buffers().ToDictionary(b => b.name, b => b.buffer.clone());
        var x = new Rand(5).Normal(new long[] { 4, 6, 3, 3 });
        x[1, 2, 0, 1] = tensor(double.PositiveInfinity);
        Tensor y;
        using (KernelPolicy.Use(KernelMode.Fused)) y = layer.call(x);
        Assert.True(y.isnan().all().item<bool>(), "the output is not all NaN");
        foreach (var (name, buffer) in layer.named_buffers())
            TensorAssert.Close(before[name], buffer, 0, 0, $"buffer {name}");
    }

    /// <summary>A whitening operation outside the four built in: W = 2·Σ^(−1/2), written with tensor ops.</summary>
    private sealed class DoubledZca() : Whitening(1e-3, WhiteningTrack.Matrix)
    {
        public override string Name => "doubled-zca";

        protected override Tensor Matrix(Tensor sigma) => 2.0 * SymmetricEigen.InverseSqrt(sigma);
    }

    /// <summary>The fused kernel has a float64 tape for the four built-in matrix functions only; any other whitening runs its composite.</summary>
    [Fact]
    public void A_whitening_operation_without_a_tape_runs_its_composite()
    {
        nn.Module<Tensor, Tensor> Make() => new Normalizer("doubled", ReductionArea.BatchGroup(6, 2), new DoubledZca(),
            AffineRecovery.PerChannel(6, true), trackRunningStats: true).to(ScalarType.Float64);
        var reference = Make();
        var layer = Make();
        var x = new Rand(3).Normal(new long[] { 4, 6, 3, 3 });
        Tensor expected, actual;
        using (KernelPolicy.Use(KernelMode.Composite)) expected = reference.call(x);
        long before = FusedKernels.Calls;
        using (KernelPolicy.Use(KernelMode.Fused)) actual = layer.call(x);
        Assert.Equal(before, FusedKernels.Calls);
        TensorAssert.Close(expected, actual, 0, 0, "output");
    }
}
