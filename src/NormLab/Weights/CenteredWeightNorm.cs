using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Centered weight normalization (Huang et al. 2017, "Centered Weight Normalization in Accelerating
/// Training of Deep Neural Networks"): per output row, v = w − mean(w) and ŵ = s · v / (‖v‖ + eps).
/// </summary>
/// <remarks>
/// Semantics of <c>huangleiBuaa/CenteredWN</c> <c>module_pytorch/CWN.py</c>: mean and norm over all
/// dims but the first, eps = 1e-5 added to the norm (outside), and the output scale s =
/// <c>NScale</c> = 1.414, a constant unless <c>learn_scale</c> (the reference's <c>adjustScale</c>), which
/// makes it a parameter <c>weight_g</c> of shape [out, 1, ...]. The raw weight is kept as <c>weight_orig</c>.
/// </remarks>
public sealed class CenteredWeightNorm : WeightNormalizer
{
    private readonly RowScale _scale;

    /// <summary>Creates centered weight normalization.</summary>
    /// <param name="scale">Output scale s, finite. Default 1.414 (the reference's NScale).</param>
    /// <param name="eps">Added to the row norm, ≥ 0. Default 1e-5.</param>
    /// <param name="learn_scale">Learn s per row as <c>weight_g</c>. Default false.</param>
    /// <exception cref="ArgumentException">a non-finite scale or a negative eps.</exception>
    public CenteredWeightNorm(double scale = 1.414, double eps = 1e-5, bool learn_scale = false) : base("cwn")
    {
        if (!double.IsFinite(scale)) throw new ArgumentException($"scale ({scale}) must be finite", nameof(scale));
        Eps = Checks.NonNegative(eps, nameof(eps));
        _scale = new RowScale(scale, learn_scale);
    }

    /// <summary>The offset added to each row norm.</summary>
    public double Eps { get; }

    /// <summary>Applies centered weight normalization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static T Apply<T>(T module, string name = "weight", double scale = 1.414, double eps = 1e-5, bool learn_scale = false) where T : nn.Module =>
        Reparametrization.Apply(module, new CenteredWeightNorm(scale, eps, learn_scale), name);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape) => WeightRows.CheckCenterable(Name, shape);

    /// <inheritdoc />
    protected internal override void Initialize(WeightState state, Tensor weight) => _scale.Initialize(state, weight);

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var w = state.Parameter(RawSuffix);
        var v = WeightRows.CenterRows(WeightRows.Matrix(w));
        return _scale.Apply(state, (v / (WeightRows.RowNorms(v) + Eps)).reshape(w.shape));
    }
}
