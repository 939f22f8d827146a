using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Areas;

/// <summary>
/// Window means over the spatial dims of [B, K, H, W] maps, each map separately, with windows clipped at
/// the borders (only positions inside the input count). A window of size s spans s/2 positions before
/// and (s−1)/2 after its centre, LibTorch's convention for even sizes.
/// </summary>
internal static class WindowFilter
{
    static WindowFilter() => Framework.NativeContext.DisableNnpack(); // its depthwise convolutions would ask NNPACK each call

    /// <summary>The box mean, from integral images (cumulative sums): O(1) per position whatever the size.</summary>
    public static Tensor BoxMean(Tensor t, long size)
    {
        var sums = WindowSum(WindowSum(t, 2, size), 3, size);
        return sums / (Counts(t.shape[2], size, t.dtype, t.device).view(-1, 1) * Counts(t.shape[3], size, t.dtype, t.device).view(1, -1));
    }

    /// <summary>The Gaussian-weighted mean (separable, standard deviation <paramref name="sigma"/>), renormalized at the borders.</summary>
    public static Tensor GaussianMean(Tensor t, long size, double sigma)
    {
        var g = Gaussian(size, sigma, t.dtype, t.device);
        var filtered = Convolve(Convolve(t, g, 2), g, 3);
        var h = Convolve(ones(1, 1, t.shape[2], 1, dtype: t.dtype, device: t.device), g, 2).view(-1, 1);
        var w = Convolve(ones(1, 1, 1, t.shape[3], dtype: t.dtype, device: t.device), g, 3).view(1, -1);
        return filtered / (h * w);
    }

    private static long Before(long size) => size / 2;

    private static long After(long size) => (size - 1) / 2;

    /// <summary>Sums over clipped windows along one dim, by differences of a cumulative sum.</summary>
    private static Tensor WindowSum(Tensor t, long dim, long size)
    {
        long length = t.shape[dim];
        var pad = new long[(4 - dim) * 2];
        pad[^2] = 1;
        var cumulative = F.pad(t, pad).cumsum(dim);
        var (lo, hi) = Bounds(length, size, t.device);
        return cumulative.index_select(dim, hi) - cumulative.index_select(dim, lo);
    }

    private static (Tensor Lo, Tensor Hi) Bounds(long length, long size, Device device)
    {
        var i = arange(length, ScalarType.Int64, device);
        return ((i - Before(size)).clamp_min(0), (i + After(size) + 1).clamp_max(length));
    }

    private static Tensor Counts(long length, long size, ScalarType dtype, Device device)
    {
        var (lo, hi) = Bounds(length, size, device);
        return (hi - lo).to(dtype);
    }

    private static Tensor Gaussian(long size, double sigma, ScalarType dtype, Device device)
    {
        var offsets = arange(-Before(size), After(size) + 1, dtype: dtype, device: device);
        var g = (-(offsets.square()) / (2 * sigma * sigma)).exp();
        return g / g.sum();
    }

    /// <summary>Correlates every map with the 1-D kernel along dim 2 (rows) or 3 (columns), zero padded.</summary>
    private static Tensor Convolve(Tensor t, Tensor kernel, long dim)
    {
        long k = t.shape[1], size = kernel.shape[0];
        var weight = (dim == 2 ? kernel.view(1, 1, size, 1) : kernel.view(1, 1, 1, size)).expand(k, 1, dim == 2 ? size : 1, dim == 2 ? 1 : size);
        var pad = dim == 2 ? new[] { 0L, 0, Before(size), After(size) } : new[] { Before(size), After(size), 0L, 0 };
        return F.conv2d(F.pad(t, pad), weight.contiguous(), groups: k);
    }
}
