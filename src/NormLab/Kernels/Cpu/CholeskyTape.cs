using NormLab.Operations;
using static NormLab.Kernels.Cpu.SmallMatrix;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// Cholesky whitening's matrix function for the fused whitening kernel: per problem, Σ = L·Lᵀ and W = L⁻¹,
/// as float64 loops over [P, d, d], with the reverse pass of the composite's LibTorch ops
/// (<c>linalg.cholesky_ex</c>, then <c>solve_triangular</c> against I):
/// dL = tril(−Wᵀ·dW·Wᵀ), then dΣ = Wᵀ·Φ·W with Φ = ½·(tril(Lᵀ·dL) + tril(Lᵀ·dL, −1)ᵀ).
/// </summary>
/// <remarks>
/// Predicted from the nested graph's cost: fwd+bwd about 0.6 ms faster. Measured (group 16, [32,64,56,56]
/// float32, one process, alternating calls with caches scrubbed, medians of 110, two runs): fwd 5.81 → 5.60
/// and 5.94 → 5.75 ms, bwd 9.28 → 8.94 and 9.81 → 9.33 ms, fwd+bwd 14.77 → 14.56 and 15.85 → 14.96 ms.
/// </remarks>
internal sealed unsafe class CholeskyTape : MatrixTape
{
    private readonly double[] _factor;

    private CholeskyTape(double[] sigma, long problems, long d) : base(sigma, problems, d) => _factor = new double[problems * d * d];

    /// <summary>Factors Σ, float64 [P·d·d], and inverts the factors.</summary>
    /// <exception cref="ArgumentException">a Σ is not positive definite (the composite's error).</exception>
    public static CholeskyTape Run(double[] sigma, long problems, long d)
    {
        var tape = new CholeskyTape(sigma, problems, d);
        fixed (double* s = sigma, l = tape._factor, w = tape.Matrix)
            for (long q = 0; q < problems; q++)
            {
                long o = q * d * d;
                Factor(s + o, l + o, d);
                InvertLower(l + o, w + o, d);
            }
        return tape;
    }

    protected override int ScratchMatrices => 3;

    protected override void PullBack(long q, double* gw, double* gs, double* s)
    {
        long d = D, dd = d * d, o = q * dd;
        double* t1 = s, t2 = s + dd, t3 = s + 2 * dd;
        fixed (double* l = _factor, w = Matrix)
        {
            // dL = tril(−Wᵀ·dW·Wᵀ): solve_triangular reads only L's lower triangle.
            MultiplyTransposedA(w + o, gw, t1, d, t3);
            MultiplyTransposedB(t1, w + o, t2, d, t3);
            for (long i = 0; i < d; i++)
                for (long j = 0; j < d; j++)
                    t2[i * d + j] = j <= i ? -t2[i * d + j] : 0.0;
            // Φ from X = Lᵀ·dL: its lower triangle, mirrored, everything halved.
            MultiplyTransposedA(l + o, t2, t1, d, t3);
            for (long i = 0; i < d; i++)
                for (long j = 0; j <= i; j++)
                {
                    double v = 0.5 * t1[i * d + j];
                    t1[i * d + j] = v;
                    if (j < i) t1[j * d + i] = v;
                }
            // dΣ = Wᵀ·Φ·W.
            MultiplyTransposedA(w + o, t1, t2, d, t3);
            Multiply(t2, w + o, gs, d);
        }
    }

    /// <summary>L with L·Lᵀ = Σ (lower, zeros above); throws where a pivot is not positive, as <c>cholesky_ex</c> reports it.</summary>
    private static void Factor(double* sigma, double* l, long d)
    {
        for (long j = 0; j < d; j++)
        {
            double pivot = sigma[j * d + j];
            for (long k = 0; k < j; k++) pivot -= l[j * d + k] * l[j * d + k];
            if (!(pivot > 0)) throw CholeskyWhitening.NotPositiveDefinite();
            double root = Math.Sqrt(pivot);
            l[j * d + j] = root;
            for (long i = j + 1; i < d; i++)
            {
                double v = sigma[i * d + j];
                for (long k = 0; k < j; k++) v -= l[i * d + k] * l[j * d + k];
                l[i * d + j] = v / root;
            }
            for (long k = j + 1; k < d; k++) l[j * d + k] = 0.0;
        }
    }

    /// <summary>W = L⁻¹ for lower-triangular L, by forward substitution column by column.</summary>
    private static void InvertLower(double* l, double* w, long d)
    {
        new Span<double>(w, (int)(d * d)).Clear();
        for (long c = 0; c < d; c++)
            for (long i = c; i < d; i++)
            {
                double v = i == c ? 1.0 : 0.0;
                for (long k = c; k < i; k++) v -= l[i * d + k] * w[k * d + c];
                w[i * d + c] = v / l[i * d + i];
            }
    }
}
