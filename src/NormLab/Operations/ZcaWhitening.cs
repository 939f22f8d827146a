using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// ZCA whitening, as Decorrelated Batch Normalization (Huang, Yang, Lang &amp; Deng, CVPR 2018):
/// W = U·Λ^(−1/2)·Uᵀ with Σ + eps·I = U·Λ·Uᵀ.
/// </summary>
/// <remarks>
/// Semantics of huangleiBuaa/StochasticityBW <c>dbn.py</c> (and <c>dbnSigma.py</c> with
/// <see cref="WhiteningTrack.Covariance"/>): contiguous channel groups, biased covariance, eps added to
/// Σ (default 1e-3), running_wm averages W. ZCA is rotation-equivariant: whitening R·x gives R·(ZCA of x).
/// Its gradient uses closed-form divided differences and stays finite for repeated eigenvalues.
/// </remarks>
public sealed class ZcaWhitening(double eps = 1e-3, WhiteningTrack track = WhiteningTrack.Matrix) : Whitening(eps, track)
{
    /// <inheritdoc />
    public override string Name => "zca";

    /// <inheritdoc />
    protected override Tensor Matrix(Tensor sigma) => SymmetricEigen.InverseSqrt(sigma);
}
