using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Cholesky (CD) whitening (Siarohin, Sangineto &amp; Sebe, ICLR 2019): W = L⁻¹ with Σ + eps·I = L·Lᵀ,
/// applied by a triangular solve.
/// </summary>
/// <remarks>
/// Semantics of huangleiBuaa/StochasticityBW <c>cdWhitening.py</c>: contiguous channel groups, biased
/// covariance, eps 1e-3 added to Σ, running_wm averages L⁻¹. Training applies L⁻¹·Xc by solving
/// L·Y = Xc; eval multiplies by the running matrix.
/// </remarks>
public sealed class CholeskyWhitening(double eps = 1e-3, WhiteningTrack track = WhiteningTrack.Matrix) : Whitening(eps, track)
{
    /// <inheritdoc />
    public override string Name => "cd";

    /// <inheritdoc />
    protected override Tensor Matrix(Tensor sigma)
    {
        var l = Factor(sigma);
        return linalg.solve_triangular(l, eye(sigma.shape[^1], dtype: sigma.dtype).expand_as(sigma), upper: false);
    }

    /// <inheritdoc />
    protected override Tensor Apply(Tensor w, Tensor sigma, Tensor centered) =>
        linalg.solve_triangular(Factor(sigma), centered, upper: false);

    private static Tensor Factor(Tensor sigma)
    {
        var (l, info) = linalg.cholesky_ex(sigma);
        if (info.max().item<int>() > 0) throw NotPositiveDefinite();
        return l;
    }

    /// <summary>The error for a covariance whose Cholesky factor does not exist.</summary>
    internal static ArgumentException NotPositiveDefinite() =>
        new("cd whitening: the covariance is not positive definite; use eps > 0", "eps");
}
