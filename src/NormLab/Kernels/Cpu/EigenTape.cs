using static NormLab.Kernels.Cpu.SmallMatrix;
using static TorchSharp.torch;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// ZCA's and PCA's whitening matrices for the fused whitening kernel, from one LibTorch <c>eigh</c> of the
/// [P, d, d] covariances (no graph), with the composites' first-order terms (<c>SymmetricEigen</c>) pulled back
/// by hand as float64 loops: ZCA's W = U·Λ^(−1/2)·Uᵀ gives dΣ = U·(F ∘ Uᵀ·dW·U)·Uᵀ with the divided differences
/// F_ij = −1/(√λᵢ·√λⱼ·(√λᵢ + √λⱼ)); PCA's W = Λ^(−1/2)·Uᵀ (decreasing λ) gives, with H = dW·U,
/// dΣ = U·Y·Uᵀ where Y_ij = K_ij·H_ji/√λⱼ, plus −½·λᵢ^(−3/2)·H_ii on the diagonal, and K the composite's
/// regularized 1/(λⱼ − λᵢ).
/// </summary>
/// <remarks>
/// Predicted: about 0.5–1 ms faster fwd+bwd, the graph's small ops (about ten forward, fifteen backward) from
/// cold caches. Measured (group 16, [32,64,56,56] float32, one process, alternating calls with caches scrubbed,
/// medians of 110, two runs each): ZCA fwd 7.25 → 6.64 and 6.17 → 5.72 ms, bwd 10.69 → 10.71 and 9.18 → 8.67 ms,
/// fwd+bwd 18.40 → 17.37 and 15.21 → 14.54 ms; PCA fwd+bwd 14.44 → 13.60 and 18.78 → 17.40 ms.
/// </remarks>
internal sealed unsafe class EigenTape : MatrixTape
{
    /// <summary>δ of the composite's regularized 1/(λⱼ − λᵢ): √eps of float64, times λ_max.</summary>
    private static readonly double Delta = Math.Sqrt(Math.ScaleB(1.0, -52));

    private readonly bool _pca;
    private readonly double[] _u, _root;

    private EigenTape(double[] sigma, long problems, long d, bool pca) : base(sigma, problems, d)
    {
        _pca = pca;
        using (NewDisposeScope())
        using (no_grad())
        {
            // As SymmetricEigen.Decompose: eigh, reversed for PCA, √λ of λ clamped to the smallest normal double.
            var (lambda, u) = linalg.eigh(tensor(sigma).view(problems, d, d));
            if (pca)
            {
                lambda = lambda.flip(-1);
                u = u.flip(-1);
            }
            _root = lambda.clamp_min(finfo(ScalarType.Float64).tiny).sqrt().contiguous().data<double>().ToArray();
            _u = u.contiguous().data<double>().ToArray();
        }
        fixed (double* pu = _u, pr = _root, w = Matrix)
            for (long q = 0; q < problems; q++)
            {
                double* uq = pu + q * d * d, rq = pr + q * d, wq = w + q * d * d;
                for (long i = 0; i < d; i++)
                    for (long j = 0; j < d; j++)
                    {
                        if (pca)
                        {
                            wq[i * d + j] = uq[j * d + i] / rq[i];
                            continue;
                        }
                        double v = 0;
                        for (long k = 0; k < d; k++) v += uq[i * d + k] / rq[k] * uq[j * d + k];
                        wq[i * d + j] = v;
                    }
            }
    }

    /// <summary>ZCA: W = U·Λ^(−1/2)·Uᵀ of each Σ, float64 [P·d·d].</summary>
    public static EigenTape Zca(double[] sigma, long problems, long d) => new(sigma, problems, d, pca: false);

    /// <summary>PCA: W = Λ^(−1/2)·Uᵀ of each Σ, rows by decreasing eigenvalue.</summary>
    public static EigenTape Pca(double[] sigma, long problems, long d) => new(sigma, problems, d, pca: true);

    protected override int ScratchMatrices => 3;

    protected override void PullBack(long q, double* gw, double* gs, double* s)
    {
        long d = D, dd = d * d;
        double* t1 = s, t2 = s + dd, t3 = s + 2 * dd;
        fixed (double* pu = _u, pr = _root)
        {
            double* uq = pu + q * dd, rq = pr + q * d;
            if (_pca)
            {
                // H = dW·U; Y_ij = K_ij·H_ji/√λⱼ, Y_ii = −½·λᵢ^(−3/2)·H_ii.
                Multiply(gw, uq, t1, d);
                double lambdaMax = 0;
                for (long i = 0; i < d; i++) lambdaMax = Math.Max(lambdaMax, rq[i] * rq[i]);
                double scale = lambdaMax * Delta;
                for (long i = 0; i < d; i++)
                    for (long j = 0; j < d; j++)
                    {
                        if (i == j)
                        {
                            t2[i * d + i] = -0.5 * t1[i * d + i] / (rq[i] * rq[i] * rq[i]);
                            continue;
                        }
                        double gap = rq[j] * rq[j] - rq[i] * rq[i];
                        t2[i * d + j] = gap / (gap * gap + scale * scale) * t1[j * d + i] / rq[j];
                    }
            }
            else
            {
                // Y = F ∘ (Uᵀ·dW·U).
                MultiplyTransposedA(uq, gw, t3, d, t1);
                Multiply(t3, uq, t2, d);
                for (long i = 0; i < d; i++)
                    for (long j = 0; j < d; j++)
                        t2[i * d + j] *= -1.0 / (rq[i] * rq[j] * (rq[i] + rq[j]));
            }
            // dΣ = U·Y·Uᵀ.
            Multiply(uq, t2, t1, d);
            MultiplyTransposedB(t1, uq, gs, d, t3);
        }
    }
}
