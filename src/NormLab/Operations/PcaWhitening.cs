using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// PCA whitening (survey §3.2.2): W = Λ^(−1/2)·Uᵀ with Σ + eps·I = U·Λ·Uᵀ, eigenvalues in decreasing order.
/// </summary>
/// <remarks>
/// Semantics of huangleiBuaa/StochasticityBW <c>pcaWhitening.py</c>: contiguous channel groups, biased
/// covariance, eps 1e-3 added to Σ, running_wm averages W. PCA whitening suffers <b>stochastic axis
/// swapping</b> (Huang et al. 2018): the eigenvector order and signs change from batch to batch, so
/// the same input is mapped to different coordinates in different batches and training is unstable.
/// NormLab keeps that behaviour on purpose; it is the survey's argument for ZCA. The eigenvector
/// gradient's 1/(λⱼ − λᵢ) terms are regularized (see <c>SymmetricEigen</c>), so gradients stay finite.
/// </remarks>
public sealed class PcaWhitening(double eps = 1e-3, WhiteningTrack track = WhiteningTrack.Matrix) : Whitening(eps, track)
{
    /// <inheritdoc />
    public override string Name => "pca";

    /// <inheritdoc />
    protected override Tensor Matrix(Tensor sigma) => SymmetricEigen.PcaMatrix(sigma);
}
