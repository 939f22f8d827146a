using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>Where weight standardization puts its eps.</summary>
public enum WsEpsMode
{
    /// <summary>Official (Qiao et al.): ŵ = (w − μ) / (σ_unbiased + eps), eps = 1e-5 added to the std.</summary>
    Official,

    /// <summary>timm / BiT: ŵ = (w − μ) / sqrt(σ²_biased + eps), eps = 1e-6 (timm's StdConv2d) inside the square root.</summary>
    Biased,
}

/// <summary>
/// Weight standardization (Qiao et al. 2019, "Micro-Batch Training with Batch-Channel Normalization and
/// Weight Standardization"): each output row is standardized, ŵ = (w − μ) / σ, over all dims but the first
/// (C_in, k, k for a convolution).
/// </summary>
/// <remarks>
/// The default follows the official code (<c>joe-siyuan-qiao/WeightStandardization</c>, README):
/// the unbiased std with eps = 1e-5 added to it. <see cref="WsEpsMode.Biased"/> follows timm's
/// <c>StdConv2d</c> (BiT): the biased variance with eps = 1e-6 inside the square root (BiT itself uses
/// 1e-10: pass <c>eps</c>). No parameters besides the raw weight <c>weight_orig</c>. On CPU float32/float64
/// weights a fused kernel (<c>Kernels.FusedWeightStandardization</c>) computes the same formula.
/// </remarks>
public sealed class WeightStandardization : WeightNormalizer
{
    /// <summary>Creates weight standardization.</summary>
    /// <param name="eps_mode">Official (default) or Biased.</param>
    /// <param name="eps">The offset, ≥ 0; null (default) gives the mode's: 1e-5 official, 1e-6 biased.</param>
    /// <exception cref="ArgumentException">a negative eps.</exception>
    public WeightStandardization(WsEpsMode eps_mode = WsEpsMode.Official, double? eps = null) : base("ws")
    {
        Mode = eps_mode;
        Eps = Checks.NonNegative(eps ?? (eps_mode == WsEpsMode.Official ? 1e-5 : 1e-6), nameof(eps));
    }

    /// <summary>The eps convention.</summary>
    public WsEpsMode Mode { get; }

    /// <summary>The offset (added to the std, or to the variance inside the square root).</summary>
    public double Eps { get; }

    /// <summary>Applies weight standardization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static T Apply<T>(T module, string name = "weight", WsEpsMode eps_mode = WsEpsMode.Official, double? eps = null) where T : nn.Module =>
        Reparametrization.Apply(module, new WeightStandardization(eps_mode, eps), name);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape) => WeightRows.CheckCenterable(Name, shape);

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var w = state.Parameter(RawSuffix);
        if (Kernels.FusedWeightStandardization.TryApply(w, Eps, Mode == WsEpsMode.Official) is { } fused) return fused;
        var c = WeightRows.CenterRows(WeightRows.Matrix(w));
        long d = c.shape[1];
        var squares = c.square().sum(new long[] { 1 }, keepdim: true);
        var scale = Mode == WsEpsMode.Official
            ? (squares / (d - 1)).sqrt() + Eps
            : (squares / d + Eps).sqrt();
        return (c / scale).reshape(w.shape);
    }
}
