using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Areas;

/// <summary>
/// Layer normalization's area (Ba et al. 2016): per sample, over the last K dims of the input, as
/// PyTorch's <c>layer_norm(x, normalized_shape)</c>. Every leading dim is a batch axis of the view.
/// </summary>
public sealed class LayerArea : ReductionArea
{
    /// <summary>Creates the area over trailing dims of shape <paramref name="normalizedShape"/>.</summary>
    /// <exception cref="ArgumentException">an empty shape or a non-positive size.</exception>
    public LayerArea(long[] normalizedShape)
        : base(1, 1, ViewAxes.Space)
    {
        if (normalizedShape.Length == 0)
            throw new ArgumentException("normalized_shape must have at least one dim", nameof(normalizedShape));
        if (normalizedShape.Any(d => d < 1))
            throw new ArgumentException($"normalized_shape [{string.Join(", ", normalizedShape)}] must have positive sizes", nameof(normalizedShape));
        NormalizedShape = normalizedShape.ToArray();
    }

    /// <summary>The trailing shape normalized over.</summary>
    public long[] NormalizedShape { get; }

    /// <inheritdoc />
    public override string Name => $"layer({NormalizedShape.Length})";

    /// <inheritdoc />
    public override void Validate(Tensor x)
    {
        int k = NormalizedShape.Length;
        if (x.dim() < k || !x.shape.Skip((int)x.dim() - k).SequenceEqual(NormalizedShape))
            throw new ArgumentException(
                $"input of shape [{string.Join(", ", x.shape)}] must end with normalized_shape [{string.Join(", ", NormalizedShape)}]", "input");
    }

    /// <inheritdoc />
    public override Tensor View(Tensor x) => x.reshape(-1, 1, 1, NormalizedShape.Aggregate(1L, (a, b) => a * b));
}
