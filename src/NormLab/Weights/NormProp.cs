using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// Normalization propagation, weight part (Arpit et al. 2016, "Normalization Propagation: A Parametric
/// Technique for Removing Internal Covariate Shift in Deep Networks"): ŵᵢ = γᵢ · wᵢ / (c · ‖wᵢ‖), so that a
/// unit-variance, uncorrelated input gives pre-activations of (about) unit variance without batch statistics.
/// </summary>
/// <remarks>
/// <para>What NormLab implements, data-independent throughout: each output row wᵢ (all dims but the first)
/// is divided by its Euclidean norm times c = 1.21 and multiplied by a learned γᵢ (<c>weight_g</c>,
/// shape [out, 1, ...], initialized to 1); the raw weight is kept as <c>weight_orig</c>; no eps. The
/// constant 1.21 and γ's initialization follow the authors' Theano layer (<c>NormFullLayer</c>:
/// pre_act = γ·xW / (1.21·‖W_col‖) + b), where 1.21 corrects for hidden inputs that are not exactly
/// uncorrelated.</para>
/// <para>The other half of NormProp acts on activations, not weights: after a ReLU, the analytic statistics
/// of ReLU(z), z ~ N(0, 1), mean sqrt(1/(2π)) and variance (1/2)(1 − 1/π), are removed by
/// <see cref="NormPropReLU"/>. A NormProp network alternates layers reparametrized by this class
/// and <see cref="NormPropReLU"/>; its input is standardized once from the data set.</para>
/// </remarks>
public sealed class NormProp : WeightNormalizer
{
    /// <summary>The authors' divisor of the row norm.</summary>
    public const double AuthorsDivisor = 1.21;

    /// <summary>Creates the NormProp weight reparametrization.</summary>
    /// <param name="divisor">c, the divisor of each row norm, > 0. Default 1.21 (the authors' code); 1 gives plain row normalization.</param>
    /// <exception cref="ArgumentException">divisor not positive.</exception>
    public NormProp(double divisor = AuthorsDivisor) : base("normprop") => Divisor = Checks.Positive(divisor, nameof(divisor));

    /// <summary>c, the divisor of each row norm.</summary>
    public double Divisor { get; }

    /// <summary>Applies the NormProp weight reparametrization to <paramref name="module"/>'s parameter <paramref name="name"/>.</summary>
    public static T Apply<T>(T module, string name = "weight", double divisor = AuthorsDivisor) where T : nn.Module =>
        Reparametrization.Apply(module, new NormProp(divisor), name);

    /// <inheritdoc />
    protected internal override void Validate(nn.Module module, long[] shape) => WeightRows.CheckRank(Name, shape);

    /// <inheritdoc />
    protected internal override void Initialize(WeightState state, Tensor weight) =>
        state.AddParameter("g", ones(WeightRows.RowShape(weight.shape), weight.dtype, weight.device));

    /// <inheritdoc />
    protected internal override Tensor Compute(WeightState state, bool training)
    {
        var w = state.Parameter(RawSuffix);
        var m = WeightRows.Matrix(w);
        return (m / (WeightRows.RowNorms(m) * Divisor)).reshape(w.shape) * state.Parameter("g");
    }
}
