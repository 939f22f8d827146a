using NormLab.Framework;
using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// Weight standardization (Qiao et al. 2019) as a fused CPU kernel with a fused backward: each row of
/// a weight [out, *rest] is standardized over its d = numel/out entries, ŵ = (w − μ)·r.
/// </summary>
/// <remarks>
/// Two forms, as the weight-standardization layer defines them: official (joe-siyuan-qiao/WeightStandardization)
/// r = 1/(σ_unbiased + eps); biased (timm's StdConv2d, BiT) r = 1/sqrt(σ²_biased + eps). Entry point for
/// the weight-normalization wrapper: call <see cref="TryApply"/> and fall back to the composite formula
/// when it returns null.
/// </remarks>
public static class FusedWeightStandardization
{
    /// <summary>
    /// Standardizes the rows of <paramref name="weight"/> with the fused kernel, or returns null when the
    /// kernel does not apply: the policy is neither <see cref="KernelMode.Auto"/> nor <see cref="KernelMode.Fused"/>, the weight is not a
    /// float32/float64 CPU tensor, or its rows have fewer than 2 entries.
    /// </summary>
    /// <param name="weight">The raw weight, rank ≥ 2 (any strides; it is made contiguous, differentiably).</param>
    /// <param name="eps">The offset, ≥ 0: added to the std (official) or to the variance inside the root (biased).</param>
    /// <param name="official">True for r = 1/(σ_unbiased + eps), false for r = 1/sqrt(σ²_biased + eps).</param>
    /// <returns>ŵ with the weight's shape (contiguous), differentiable through a custom autograd function; or null.</returns>
    /// <exception cref="ArgumentException">eps negative or not finite.</exception>
    public static Tensor? TryApply(Tensor weight, double eps, bool official)
    {
        Checks.NonNegative(eps, nameof(eps));
        if (KernelPolicy.Current is not (KernelMode.Auto or KernelMode.Fused) || !FusedKernels.Supports(weight) || weight.dim() < 2) return null;
        long rows = weight.shape[0], d = weight.numel() / rows;
        if (d < 2) return null;
        var layout = new RowLayout(rows, 1, 1, d, reduceA: false, reduceCg: true) { StreamOutput = StreamingStores.For(weight) };
        var call = new RowCall(layout, new StandardizeOp(eps, unbiased: official, epsOutsideRoot: official), AffineKind.None, batch: true)
        {
            Composite = (w, _) => Formula(w, eps, official),
        };
        return FusedFunction.Apply(call, weight.contiguous(), null, null);
    }

    /// <summary>The plain formula (for double backward): rows centered and divided by the std form.</summary>
    private static Tensor Formula(Tensor w, double eps, bool official)
    {
        var rows = w.reshape(w.shape[0], -1);
        long d = rows.shape[1];
        var c = rows - rows.mean(new long[] { 1 }, keepdim: true);
        var squares = c.square().sum(new long[] { 1 }, keepdim: true);
        var scale = official ? (squares / (d - 1)).sqrt() + eps : (squares / d + eps).sqrt();
        return (c / scale).reshape(w.shape);
    }
}
