using NormLab.Framework;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Layers;

/// <summary>
/// Local normalization against LibTorch's local_response_norm and against direct window loops written
/// here (each output position averages its own clipped window), in float64 to 1e-10, with gradients.
/// </summary>
public class LocalNormTests
{
    [Theory]
    [InlineData(new long[] { 2, 7, 5 }, 5)]
    [InlineData(new long[] { 2, 7, 5 }, 4)]
    [InlineData(new long[] { 2, 6, 4, 3 }, 3)]
    [InlineData(new long[] { 2, 6, 4, 3 }, 2)]
    [InlineData(new long[] { 2, 5, 2, 3, 2 }, 5)]
    [InlineData(new long[] { 2, 3, 4, 4 }, 8)]
    public void Local_response_norm_matches_native(long[] shape, long size)
    {
        foreach (var (alpha, beta, k) in new[] { (1e-4, 0.75, 2.0), (0.5, 0.5, 1.0), (2.0, 1.3, 0.5) })
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = NormRegistry.Create(FormattableString.Invariant($"lrn(size={size},alpha={alpha},beta={beta},k={k})"), shape[1..]);
            layer.to(ScalarType.Float64);
            var rand = new Rand(110);
            NativeConformanceTests.CompareStep(layer, rand.Features(shape) * 2, rand, (x, w, b) => F.local_response_norm(x, size, alpha, beta, k));
        }
    }

    /// <summary>The mean of x [N, C, H, W] over the channels of each group and a clipped size² window, by explicit loops.</summary>
    private static Tensor WindowMean(Tensor x, long groups, long size, Func<long, long, double>? weight = null)
    {
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], cg = c / groups;
        long before = size / 2, after = (size - 1) / 2;
        var rows = new List<Tensor>();
        for (long g = 0; g < groups; g++)
        {
            var channels = x[.., (int)(g * cg)..(int)((g + 1) * cg)];
            var positions = new List<Tensor>();
            for (long i = 0; i < h; i++)
            for (long j = 0; j < w; j++)
            {
                Tensor total = zeros(n, dtype: x.dtype);
                double mass = 0;
                for (long p = Math.Max(0, i - before); p <= Math.Min(h - 1, i + after); p++)
                for (long q = Math.Max(0, j - before); q <= Math.Min(w - 1, j + after); q++)
                {
                    double wt = weight?.Invoke(p - i, q - j) ?? 1;
                    total = total + channels[.., .., p, q].sum(new long[] { 1 }) * wt;
                    mass += wt * cg;
                }
                positions.Add(total / mass);
            }
            rows.Add(stack(positions, 1).view(n, 1, h, w).expand(n, cg, h, w));
        }
        return cat(rows, 1);
    }

    private static Tensor ChannelAffine(Tensor y, Tensor? w, Tensor? b) =>
        w is null ? y : y * w.view(1, -1, 1, 1) + b!.view(1, -1, 1, 1);

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 4)]
    [InlineData(6, 5)]
    [InlineData(3, 5)]
    public void Local_context_norm_matches_window_loops(long groups, long window)
    {
        var layer = NormRegistry.Create($"lcxn(groups={groups},window={window},eps=1e-3)", 6, 6, 5);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 111);
        var rand = new Rand(112);
        NativeConformanceTests.CompareStep(layer, rand.Features(2, 6, 6, 5), rand, (x, w, b) =>
        {
            var mean = WindowMean(x, groups, window);
            var variance = WindowMean(x.square(), groups, window) - mean.square();
            return ChannelAffine((x - mean) / (variance + 1e-3).sqrt(), w, b);
        });
    }

    [Theory]
    [InlineData(3, 5, 1.0)]
    [InlineData(2, 4, 0.5)]
    [InlineData(1, 3, 0.0)]
    public void Divisive_norm_matches_window_loops(long sumSize, long supSize, double sigma)
    {
        var layer = NormRegistry.Create(FormattableString.Invariant($"divisive(sum_size={sumSize},sup_size={supSize},sigma={sigma})"), 4, 6, 6);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 113);
        var rand = new Rand(114);
        NativeConformanceTests.CompareStep(layer, rand.Features(2, 4, 6, 6), rand, (x, w, b) =>
        {
            var v = x - WindowMean(x, 4, sumSize);
            return ChannelAffine(v / (WindowMean(v.square(), 4, supSize) + sigma * sigma).sqrt(), w, b);
        });
    }

    [Theory]
    [InlineData(5, null)]
    [InlineData(4, 1.5)]
    public void Local_contrast_norm_matches_window_loops(long size, double? sigma)
    {
        double s = sigma ?? size / 4.0;
        var layer = NormRegistry.Create(sigma is null ? $"lcn(size={size})" : FormattableString.Invariant($"lcn(size={size},sigma={sigma})"), 3, 6, 7);
        layer.to(ScalarType.Float64);
        var rand = new Rand(115);
        double Gauss(long p, long q) => Math.Exp(-(p * p + q * q) / (2 * s * s));
        NativeConformanceTests.CompareStep(layer, rand.Features(2, 3, 6, 7), rand, (x, w, b) =>
        {
            var v = x - WindowMean(x, 1, size, Gauss);
            var sd = WindowMean(v.square(), 1, size, Gauss).sqrt();
            var c = sd.mean(new long[] { 1, 2, 3 }, keepdim: true);
            return v / sd.maximum(c);
        });
    }

    /// <summary>
    /// The Gaussian window's depthwise convolutions would make LibTorch ask NNPACK on every call, which on CPUs
    /// NNPACK does not recognize logs a warning each time; the window filter switches NNPACK off first.
    /// </summary>
    [Fact]
    public void The_gaussian_window_switches_nnpack_off()
    {
        var layer = NormRegistry.Create("lcn(size=3)", 16, 6, 7);
        using var _ = no_grad();
        layer.call(new Rand(116).Features(16, 16, 6, 7)).Dispose();
        Assert.Equal(false, NormLab.Framework.NativeContext.NnpackEnabled());
    }

    [Theory]
    [InlineData("lrn(size=3)")]
    [InlineData("lrn(size=4,alpha=0.3,beta=1.2,k=1)")]
    [InlineData("lcn(size=3)")]
    [InlineData("divisive(sum_size=3,sup_size=3)")]
    [InlineData("lcxn(groups=2,window=3)")]
    public void Gradients_match_finite_differences(string spec)
    {
        var layer = NormRegistry.Create(spec, 4, 4, 4);
        layer.to(ScalarType.Float64);
        NativeConformanceTests.Randomize(layer, 116);
        GradCheck.Module(layer, new Rand(117).Features(2, 4, 4, 4));
    }

    [Theory]
    [InlineData("lcxn(groups=2,window=9)")]
    [InlineData("lcn(size=9)")]
    [InlineData("divisive(sup_size=7)")]
    public void A_window_larger_than_the_input_is_a_clear_error(string spec)
    {
        var layer = NormRegistry.Create(spec, 4, 6, 6);
        var e = Assert.ThrowsAny<ArgumentException>(() => layer.call(zeros(2, 4, 6, 6)));
        Assert.Matches(@"window \(\d+\) is larger than the input's spatial size \[6, 6\]", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("lcn", 4)]
    [InlineData("lcxn", 4)]
    [InlineData("lrn", 4)]
    public void Local_norms_need_spatial_inputs(string spec, long c)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => NormRegistry.Create(spec, c));
        Assert.Contains("featureShape", e.Message + e.ParamName);
        Assert.DoesNotContain('\n', e.Message);
    }
}
