using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Whitening matrices from the eigendecomposition Σ = U·Λ·Uᵀ of batched symmetric positive-definite
/// matrices [P, d, d], with first-order gradients that stay finite when eigenvalues are close or repeated.
/// </summary>
/// <remarks>
/// The decomposition itself runs without autograd. Gradients are attached by adding the exact
/// first-order term of the matrix function, evaluated at Σ − stopgrad(Σ) (which is zero in value):
/// W = W₀ + dW(Σ − Σ₀). For ZCA, W = U·Λ^(−1/2)·Uᵀ, the Daleckii–Krein form
/// dW = U·(F ∘ Uᵀ·dΣ·U)·Uᵀ uses the divided differences of λ^(−1/2), which have the closed form
/// F_ij = −1 / (√λᵢ·√λⱼ·(√λᵢ + √λⱼ)): no division by λᵢ − λⱼ, so repeated eigenvalues are harmless
/// (unlike autograd through <c>eigh</c>, PyTorch #76531). PCA, W = Λ^(−1/2)·Uᵀ, depends on the
/// eigenvectors themselves, whose derivative has 1/(λⱼ − λᵢ); NormLab regularizes it as
/// (λⱼ − λᵢ)/((λⱼ − λᵢ)² + δ²) with δ = √ε_dtype·λ_max, exact to relative δ² for separated
/// eigenvalues and bounded for repeated ones. Second derivatives through these matrices are not provided.
/// </remarks>
internal static class SymmetricEigen
{
    /// <summary>ZCA whitening matrix Σ^(−1/2) = U·Λ^(−1/2)·Uᵀ.</summary>
    public static Tensor InverseSqrt(Tensor sigma)
    {
        var (root, u) = Decompose(sigma, descending: false);
        var ut = u.transpose(-2, -1);
        var w0 = (u * root.reciprocal().unsqueeze(-2)).matmul(ut);
        var si = root.unsqueeze(-1);
        var sj = root.unsqueeze(-2);
        var divided = -(si * sj * (si + sj)).reciprocal();
        var a = ut.matmul(sigma - sigma.detach()).matmul(u);
        return w0 + u.matmul(divided * a).matmul(ut);
    }

    /// <summary>PCA whitening matrix Λ^(−1/2)·Uᵀ, rows ordered by decreasing eigenvalue.</summary>
    public static Tensor PcaMatrix(Tensor sigma)
    {
        var (root, u) = Decompose(sigma, descending: true);
        var lambda = root.square();
        var ut = u.transpose(-2, -1);
        var w0 = root.reciprocal().unsqueeze(-1) * ut;
        var a = ut.matmul(sigma - sigma.detach()).matmul(u);
        var gap = lambda.unsqueeze(-2) - lambda.unsqueeze(-1);
        double delta = Math.Sqrt(finfo(sigma.dtype).eps);
        var scale = lambda.amax(new long[] { -1 }, keepdim: true).unsqueeze(-1) * delta;
        var k = gap / (gap.square() + scale.square());
        var dLambda = a.diagonal(0, -2, -1);
        var dRoot = -0.5 * dLambda * root.pow(-3);
        var du = u.matmul(k * a);
        return w0 + dRoot.unsqueeze(-1) * ut + root.reciprocal().unsqueeze(-1) * du.transpose(-2, -1);
    }

    /// <summary>√λ (clamped to stay positive) and U of a detached symmetric matrix.</summary>
    private static (Tensor Root, Tensor U) Decompose(Tensor sigma, bool descending)
    {
        using var _ = no_grad();
        var (lambda, u) = linalg.eigh(sigma.detach());
        if (descending)
        {
            lambda = lambda.flip(-1);
            u = u.flip(-1);
        }
        double tiny = finfo(sigma.dtype).tiny;
        return (lambda.clamp_min(tiny).sqrt(), u);
    }
}
