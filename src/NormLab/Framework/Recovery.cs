using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// Normalization representation recovery (NRR, survey §3.3): how representation power is restored
/// after normalization (identity, affine γ·x̂ + β, and the conditional forms).
/// </summary>
/// <remarks>
/// A recovery acts on the normalized tensor in the input's own shape, so its parameters follow the
/// input's layout (per channel, or elementwise over the trailing dims) whatever the area was.
/// </remarks>
public abstract class Recovery : NormPart
{
    /// <summary>
    /// Restores representation: maps the normalized tensor (input layout) to the output. The
    /// normalizer's raw input is passed too, for recoveries computed from it (attentive normalization).
    /// </summary>
    public abstract Tensor Apply(Tensor normalized, Tensor input);
}
