using NormLab.Framework;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Areas;

/// <summary>
/// Local response normalization's area (Krizhevsky, Sutskever &amp; Hinton 2012): at each (n, position),
/// a sliding window of <see cref="Size"/> neighbouring channels.
/// </summary>
/// <remarks>
/// LibTorch's <c>local_response_norm</c> semantics: the window spans size/2 channels before and
/// (size − 1)/2 after, zero padded at the ends, and the mean divides by the full size (padding counts).
/// </remarks>
public sealed class ChannelWindowArea : NormArea
{
    /// <summary>Creates the area.</summary>
    /// <param name="size">The number of channels in the window, at least 1.</param>
    public ChannelWindowArea(long size) => Size = Checks.AtLeast(size, 1, "size");

    /// <summary>The window's length in channels.</summary>
    public long Size { get; }

    /// <inheritdoc />
    public override string Name => $"channel-window({Size})";

    /// <inheritdoc />
    public override bool UsesBatch => false;

    /// <inheritdoc />
    public override void Validate(Tensor x)
    {
        if (x.dim() < 3)
            throw new ArgumentException($"input has {x.dim()} dims (shape {Checks.Shape(x.shape)}); local response normalization expects [N, C, *spatial] with at least 3 dims", "input");
    }

    /// <inheritdoc />
    public override Tensor View(Tensor x) => x.reshape(x.shape[0], 1, x.shape[1], -1);

    /// <inheritdoc />
    public override Tensor Average(Tensor v) =>
        F.avg_pool2d(F.pad(v, new[] { 0L, 0, Size / 2, (Size - 1) / 2 }), new[] { Size, 1L }, new[] { 1L, 1L });

    /// <inheritdoc />
    public override long Count(Tensor v) => Size;
}
