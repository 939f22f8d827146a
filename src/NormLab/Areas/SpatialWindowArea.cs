using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Areas;

/// <summary>The weighting of a spatial window.</summary>
public enum WindowKernel
{
    /// <summary>Uniform weights (box filter, computed with integral images).</summary>
    Box,
    /// <summary>Gaussian weights (separable filter).</summary>
    Gaussian,
}

/// <summary>
/// A local area (survey §3.1, local normalization): for inputs [N, C, H, W], the statistics at (c, h, w)
/// average over the channels of c's group and a size × size spatial window around (h, w).
/// </summary>
/// <remarks>
/// Groups of contiguous channels: G = C gives per-channel windows (divisive normalization), G = 1
/// windows across all channels (local contrast normalization), other G local context normalization.
/// Windows are clipped at the borders: only positions inside the input count (a Gaussian window is
/// renormalized). A window of even size spans size/2 positions before its centre and size/2 − 1 after.
/// </remarks>
public sealed class SpatialWindowArea : NormArea
{
    /// <summary>Creates the area.</summary>
    /// <param name="channels">C, at least 1.</param>
    /// <param name="groups">G, dividing C.</param>
    /// <param name="size">The window's side, at least 1.</param>
    /// <param name="kernel">Box or Gaussian weights.</param>
    /// <param name="sigma">The Gaussian's standard deviation in pixels, &gt; 0; null means size/4.</param>
    /// <exception cref="ArgumentException">an invalid value, named in the message.</exception>
    public SpatialWindowArea(long channels, long groups, long size, WindowKernel kernel = WindowKernel.Box, double? sigma = null)
    {
        Checks.Divides(groups, "groups", channels);
        Channels = channels;
        Groups = groups;
        Size = Checks.AtLeast(size, 1, "window");
        Kernel = kernel;
        Sigma = Checks.Positive(sigma ?? size / 4.0, nameof(sigma));
    }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <summary>G.</summary>
    public long Groups { get; }

    /// <summary>The window's side.</summary>
    public long Size { get; }

    /// <summary>The weighting.</summary>
    public WindowKernel Kernel { get; }

    /// <summary>The Gaussian's standard deviation (unused for a box).</summary>
    public double Sigma { get; }

    /// <inheritdoc />
    public override string Name => $"window({Size}x{Size}, groups={Groups}, {Kernel.ToString().ToLowerInvariant()})";

    /// <inheritdoc />
    public override bool UsesBatch => false;

    /// <inheritdoc />
    public override void Validate(Tensor x)
    {
        if (x.dim() != 4)
            throw new ArgumentException($"input has {x.dim()} dims (shape {Checks.Shape(x.shape)}); area '{Name}' expects [N, C, H, W]", "input");
        if (x.shape[1] != Channels)
            throw new ArgumentException($"input has {x.shape[1]} channels (shape {Checks.Shape(x.shape)}); this layer was built for num_channels = {Channels}", "input");
        if (Size > x.shape[2] || Size > x.shape[3])
            throw new ArgumentException($"window ({Size}) is larger than the input's spatial size [{x.shape[2]}, {x.shape[3]}]", "window");
    }

    /// <inheritdoc />
    public override Tensor View(Tensor x) => x.reshape(x.shape[0], Groups, Channels / Groups, x.shape[2], x.shape[3]);

    /// <inheritdoc />
    public override Tensor Average(Tensor v)
    {
        var perGroup = v.mean(new long[] { 2 });
        var filtered = Kernel == WindowKernel.Box ? WindowFilter.BoxMean(perGroup, Size) : WindowFilter.GaussianMean(perGroup, Size, Sigma);
        return filtered.unsqueeze(2);
    }

    /// <inheritdoc />
    public override long Count(Tensor v) => v.shape[2] * Size * Size;
}
