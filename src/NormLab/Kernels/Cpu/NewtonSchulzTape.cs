using static NormLab.Kernels.Cpu.SmallMatrix;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// IterNorm's matrix function for the fused whitening kernel: per problem, the trace-normalized
/// Newton–Schulz iteration W = P_T / √tr(Σ), P₀ = I, P_{k+1} = 1.5·P_k − 0.5·((P_k·P_k)·P_k)·(Σ / tr(Σ)),
/// as float64 loops over [P, d, d], keeping the iterates so that <see cref="PullBack"/> maps dL/dW to
/// dL/dΣ by reverse mode. The same products in the same order as <c>NewtonSchulz.InverseSqrt</c>, the
/// composite, so the two agree to rounding.
/// </summary>
/// <remarks>
/// Replaces a graph of LibTorch ops on the [P, d, d] tensors and a nested <c>autograd.grad</c> through it,
/// which from cold caches cost about 1.1–1.2 ms per backward for products of 16 × 16 matrices. Predicted:
/// fwd+bwd 1.2–1.5 ms faster. Measured (IterNorm, T = 5, group 16, [32,64,56,56] float32, one process,
/// alternating calls with caches scrubbed, medians of 110, two runs): fwd 6.31 → 5.73 and 5.58 → 5.07 ms,
/// bwd 9.70 → 8.74 and 8.50 → 7.76 ms, fwd+bwd 15.80 → 14.52 and 13.98 → 12.81 ms.
/// </remarks>
internal sealed unsafe class NewtonSchulzTape : MatrixTape
{
    private readonly long _iterations;
    private readonly double[] _sigma, _trace, _iterates;

    private NewtonSchulzTape(double[] sigma, long problems, long d, long iterations) : base(sigma, problems, d)
    {
        _sigma = sigma;
        _iterations = iterations;
        _trace = new double[problems];
        _iterates = new double[(iterations + 1) * problems * d * d];
    }

    /// <summary>Runs the iteration on Σ, float64 [P·d·d] (kept, not copied).</summary>
    public static NewtonSchulzTape Run(double[] sigma, long problems, long d, long iterations)
    {
        var tape = new NewtonSchulzTape(sigma, problems, d, iterations);
        tape.Forward();
        return tape;
    }

    private long Square => D * D;

    private void Forward()
    {
        long d = D, dd = Square;
        var scratch = new double[3 * dd];
        fixed (double* sigma = _sigma, iterates = _iterates, w = Matrix, s = scratch)
        {
            double* b = s, c = s + dd, n = s + 2 * dd;
            for (long q = 0; q < Problems; q++)
            {
                double* sq = sigma + q * dd;
                double t = 0;
                for (long i = 0; i < d; i++) t += sq[i * d + i];
                _trace[q] = t;
                for (long e = 0; e < dd; e++) n[e] = sq[e] / t;
                double* p0 = Iterate(iterates, 0, q);
                new Span<double>(p0, (int)dd).Clear();
                for (long i = 0; i < d; i++) p0[i * d + i] = 1.0;
                for (long k = 0; k < _iterations; k++)
                {
                    double* a = Iterate(iterates, k, q), next = Iterate(iterates, k + 1, q);
                    Multiply(a, a, b, d);
                    Multiply(b, a, c, d);
                    Multiply(c, n, next, d);
                    for (long e = 0; e < dd; e++) next[e] = 1.5 * a[e] - 0.5 * next[e];
                }
                double root = Math.Sqrt(t);
                double* last = Iterate(iterates, _iterations, q);
                for (long e = 0; e < dd; e++) w[q * dd + e] = last[e] / root;
            }
        }
    }

    protected override int ScratchMatrices => 9;

    protected override void PullBack(long q, double* gwq, double* gsq, double* s)
    {
        long d = D, dd = Square;
        double* n = s, g = s + dd, gd = s + 2 * dd, gc = s + 3 * dd, gb = s + 4 * dd, gn = s + 5 * dd, b = s + 6 * dd, c = s + 7 * dd, t1 = s + 8 * dd;
        fixed (double* sigma = _sigma, iterates = _iterates)
        {
            double* sq = sigma + q * dd;
            double t = _trace[q], root = Math.Sqrt(t);
            for (long e = 0; e < dd; e++) n[e] = sq[e] / t;
            // W = P_T·t^(−1/2): dP_T = dW / √t, dt = −½·t^(−3/2)·⟨dW, P_T⟩.
            double* last = Iterate(iterates, _iterations, q);
            double dt = 0;
            for (long e = 0; e < dd; e++)
            {
                g[e] = gwq[e] / root;
                dt += gwq[e] * last[e];
            }
            dt *= -0.5 / (t * root);
            new Span<double>(gn, (int)dd).Clear();
            for (long k = _iterations - 1; k >= 0; k--)
            {
                // P_{k+1} = 1.5·A − 0.5·D, D = C·N, C = B·A, B = A·A, with A = P_k; g holds dP_{k+1}.
                double* a = Iterate(iterates, k, q);
                Multiply(a, a, b, d);
                Multiply(b, a, c, d);
                for (long e = 0; e < dd; e++) gd[e] = -0.5 * g[e];
                MultiplyTransposedB(gd, n, gc, d, t1);       // dC = dD·Nᵀ
                MultiplyTransposedA(c, gd, gn, d, t1, true); // dN += Cᵀ·dD
                if (k == 0) break;                           // P₀ = I is a constant
                for (long e = 0; e < dd; e++) g[e] *= 1.5;   // dA = 1.5·dP_{k+1} + …
                MultiplyTransposedB(gc, a, gb, d, t1);       // dB = dC·Aᵀ
                MultiplyTransposedA(b, gc, g, d, t1, true);  // dA += Bᵀ·dC
                MultiplyTransposedB(gb, a, g, d, t1, true);  // dA += dB·Aᵀ
                MultiplyTransposedA(a, gb, g, d, t1, true);  // dA += Aᵀ·dB
            }
            // N = Σ / t: dΣ = dN / t, dt −= ⟨dN, Σ⟩ / t²; t = tr(Σ): dΣ_ii += dt.
            double inner = 0;
            for (long e = 0; e < dd; e++)
            {
                gsq[e] = gn[e] / t;
                inner += gn[e] * sq[e];
            }
            dt -= inner / (t * t);
            for (long i = 0; i < d; i++) gsq[i * d + i] += dt;
        }
    }

    private double* Iterate(double* iterates, long k, long q) => iterates + (k * Problems + q) * Square;
}
