using System.Runtime.CompilerServices;
using NormLab.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// The whitening problem layout: the contiguous input [A, G·d, S] as blocks b = (a, g) of d rows × S
/// samples; problem p = g for batch whitening (samples over A and S), p = b for instance whitening.
/// </summary>
internal sealed record WhiteningLayout(long A, long G, long D, long S, bool Batch)
{
    public long C => G * D;
    public long Blocks => A * G;
    public long Problems => Batch ? G : A * G;
    public long Samples => (Batch ? A : 1) * S;
    public long Problem(long block) => Batch ? block % G : block;

    /// <summary>Per-block d × d values (a contiguous float64 [blocks, d, d] tensor) summed per problem, float64 [P·d·d].</summary>
    public unsafe double[] ProblemSums(Tensor blocks)
    {
        long dd = D * D;
        var sums = new double[Problems * dd];
        double* b = RawTensor.Ptr<double>(blocks);
        for (long k = 0; k < Blocks; k++)
        {
            long q = Problem(k);
            for (long e = 0; e < dd; e++) sums[q * dd + e] += b[k * dd + e];
        }
        return sums;
    }
}

/// <summary>
/// A call of the fused whitening-application kernel: y = γ·W·(x − μ) + β per block, with the centered
/// input already in <see cref="Centered"/> (it becomes y in place). The covariance and W were computed
/// before the call (the block products or LibTorch's bmm, and the matrix function's <see cref="Cpu.MatrixTape"/>); when x
/// needs a gradient, the call keeps the tape's pull-back dL/dW ↦ dL/dΣ.
/// Backward: per block, x − μ, Σ dy and dW′ = Σ dy·(x − μ)ᵀ in one pass (<see cref="BlockGram"/>; without
/// AVX-512, LibTorch's bmm), then in one tiled pass
/// dx = W′ᵀ·(dy − ȳ) + M·(x − μ) with M = (dΣ + dΣᵀ)/m (ȳ and M only with batch statistics).
/// </summary>
internal sealed class WhiteningCall : FusedCall
{
    public WhiteningCall(WhiteningLayout layout, Tensor centered, double[] mean, Tensor matrix, Func<double[], double[]>? pullBack, bool batchStatistics)
    {
        // W lives as long as this call (the autograd node keeps it), not as long as the caller's dispose
        // scope; the finalizer releases it with the node.
        Layout = layout;
        Centered = centered;
        Mean = mean;
        Matrix = matrix.DetachFromDisposeScope();
        PullBack = pullBack;
        BatchStatistics = batchStatistics;
    }

    public override string Name => "whitening";

    public WhiteningLayout Layout { get; }

    /// <summary>x − μ, contiguous like x; overwritten with y by <see cref="Forward"/>.</summary>
    public Tensor Centered { get; }

    /// <summary>μ per problem and channel, [P·d].</summary>
    public double[] Mean { get; }

    /// <summary>W per problem, float64 [P, d, d] (no graph).</summary>
    public Tensor Matrix { get; }

    /// <summary>dL/dW ↦ dL/dΣ per problem (float64 [P·d·d] both), or null when x needs no gradient through W.</summary>
    public Func<double[], double[]>? PullBack { get; }

    /// <summary>Whether μ and W come from the batch (their gradients reach x).</summary>
    public bool BatchStatistics { get; }

    /// <summary>γ·W in x's dtype, [P, d, d], set by forward.</summary>
    private Tensor? _scaled;

    public override Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved)
    {
        _scaled = Scaled(parameters[0]).to(x.dtype).contiguous().DetachFromDisposeScope();
        if (x.dtype == ScalarType.Float32) Apply<float>(parameters[1]);
        else Apply<double>(parameters[1]);
        return Centered;
    }

    /// <summary>y = γW·(x − μ) + β in place over the centered copy.</summary>
    private unsafe void Apply<T>(Tensor? beta) where T : unmanaged =>
        Run(Centered, Centered, null, RawTensor.Ptr<T>(_scaled!), Layout.D, RawTensor.Ptr<T>(beta));

    /// <summary>γ ⊙ W (row i of group g scaled by γ_{g·d+i}), float64 [P, d, d].</summary>
    private Tensor Scaled(Tensor? gamma)
    {
        if (gamma is null) return Matrix;
        var g = gamma.detach().to(ScalarType.Float64).view(1, Layout.G, Layout.D, 1);
        var w = Matrix.view(-1, Layout.G, Layout.D, Layout.D);
        return (w * g).view(Layout.Problems, Layout.D, Layout.D);
    }

    /// <summary>
    /// Runs the tiled matrix over every block: out = M_p·[first; second] + bias, with M [P, d, k] (k = d, or 2d
    /// with <paramref name="second"/>) and bias per problem [P·d] or per channel [C] (or null).
    /// </summary>
    private unsafe void Run<T>(Tensor output, Tensor first, Tensor? second, T* matrix, long k, T* bias, bool biasPerProblem = false) where T : unmanaged
    {
        var layout = Layout;
        long s = layout.S, d = layout.D;
        nint po = (nint)RawTensor.Ptr<T>(output), pf = (nint)RawTensor.Ptr<T>(first), ps = (nint)RawTensor.Ptr<T>(second),
            pm = (nint)matrix, pb = (nint)bias;
        KernelParallel.For(layout.Blocks, d * s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            using var scratch = new NativeBuffer((k * TileGemm.Tile * sizeof(T) + 7) / 8);
            for (long b = start; b < end; b++)
            {
                long p = layout.Problem(b), offset = b * d * s;
                T* biasRow = pb == 0 ? null : (T*)pb + (biasPerProblem ? p * d : (b % layout.G) * d);
                TileGemm.Apply((T*)po + offset, (T*)pf + offset, ps == 0 ? null : (T*)ps + offset, s, s, d, (T*)pm + p * d * k, biasRow, (T*)scratch.Pointer);
            }
        });
    }

    public override (Tensor? Dx, Tensor?[] Dparameters) Backward(Tensor x, Tensor?[] parameters, IReadOnlyList<Tensor> saved, Tensor dy) =>
        x.dtype == ScalarType.Float32 ? Backward<float>(x, parameters[0], dy) : Backward<double>(x, parameters[0], dy);

    private unsafe (Tensor?, Tensor?[]) Backward<T>(Tensor x, Tensor? gamma, Tensor dy) where T : unmanaged
    {
        var layout = Layout;
        long rows = layout.A * layout.C, s = layout.S, d = layout.D, p = layout.Problems;
        var work = empty_like(x);
        var rowDy = new double[rows];
        T* px = RawTensor.Ptr<T>(x), pdy = RawTensor.Ptr<T>(dy), pw = RawTensor.Ptr<T>(work);
        // Per block: x − μ and Σ dy per row, then (with AVX-512) dW′ = Σ dy·(x − μ)ᵀ while the block is in cache.
        bool gram = BlockGram.Supported;
        var dScaled = gram ? zeros(layout.Blocks, d, d, dtype: ScalarType.Float64) : null;
        fixed (double* prd = rowDy, pmean = Mean)
        {
            nint xs = (nint)px, dys = (nint)pdy, ws = (nint)pw, rd = (nint)prd, ms = (nint)pmean;
            nint pg = gram ? (nint)RawTensor.Ptr<double>(dScaled!) : 0;
            bool stream = !gram && StreamingStores.For(x);
            KernelParallel.For(layout.Blocks, d * s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long b = start; b < end; b++)
                {
                    double* mu = (double*)ms + layout.Problem(b) * d;
                    for (long row = b * d; row < (b + 1) * d; row++)
                    {
                        double sdy = 0, unused = 0;
                        RowMath.Affine((T*)xs + row * s, (T*)ws + row * s, s, mu[row - b * d], 1.0, 0.0, stream: stream);
                        RowMath.Moments((T*)dys + row * s, s, 0.0, ref sdy, ref unused);
                        ((double*)rd)[row] = sdy;
                    }
                    if (gram) BlockGram.Accumulate((T*)dys + b * d * s, (T*)ws + b * d * s, s, s, d, (double*)pg + b * d * d);
                }
                StreamingStores.Fence(stream);
            });
        }
        // Without AVX-512: dW′ = Σ dy·(x − μ)ᵀ per block by LibTorch's bmm.
        dScaled ??= dy.view(layout.Blocks, d, s).bmm(work.view(layout.Blocks, d, s).transpose(1, 2)).to(ScalarType.Float64);
        // The small parts below are loops over float64 arrays of a few hundred values; as tensor ops, the
        // dγ, dβ part took 0.32 ms from cold caches (now 0.11–0.16 ms).
        double[] dWPrime = layout.ProblemSums(dScaled.contiguous());
        var dbeta = new double[layout.C];
        var ybar = new double[p * d];
        for (long row = 0; row < rows; row++)
        {
            long a = row / layout.C, c = row % layout.C;
            dbeta[c] += rowDy[row];
            ybar[layout.Problem(a * layout.G + c / d) * d + c % d] += rowDy[row] / layout.Samples;
        }
        Tensor? dgamma = GradShapes[0] is null ? null : FusedKernels.Gradient(GammaGradient(dWPrime), GradShapes[0]!, x.dtype);
        Tensor? dbetaTensor = GradShapes[1] is null ? null : FusedKernels.Gradient(dbeta, GradShapes[1]!, x.dtype);
        if (!NeedInput) return (null, new[] { dgamma, dbetaTensor });

        // dx = W′ᵀ·dy − W′ᵀ·ȳ + M·(x − μ), M = (dΣ + dΣᵀ)/m, computed in place over the centered copy; W′ = γW.
        T* scaled = RawTensor.Ptr<T>(_scaled!);
        double WPrime(long q, long i, long j) => RowMath.ToDouble(scaled[(q * d + i) * d + j]);
        if (!BatchStatistics)
        {
            var transposed = new T[p * d * d];
            for (long q = 0; q < p; q++)
                for (long i = 0; i < d; i++)
                    for (long j = 0; j < d; j++)
                        transposed[(q * d + i) * d + j] = scaled[(q * d + j) * d + i];
            fixed (T* pm = transposed) Run(work, dy, null, pm, d, (T*)null);
            return (work, new[] { dgamma, dbetaTensor });
        }
        double[]? dSigma = null;
        if (PullBack is not null)
        {
            // dL/dW = γ_i·dW′[i, j] per problem, pulled back to dΣ through the matrix function.
            var dW = dWPrime;
            if (gamma is not null)
            {
                var g = FusedKernels.Values(gamma);
                dW = new double[dWPrime.Length];
                for (long q = 0; q < p; q++)
                    for (long i = 0; i < d; i++)
                        for (long j = 0; j < d; j++)
                            dW[(q * d + i) * d + j] = dWPrime[(q * d + i) * d + j] * g[q % layout.G * d + i];
            }
            dSigma = PullBack(dW);
        }
        // Per problem, row i: [W′ᵀ row i | M row i], and the bias −(W′ᵀ·ȳ)_i.
        var matrix = new T[p * d * 2 * d];
        var bias = new T[p * d];
        for (long q = 0; q < p; q++)
            for (long i = 0; i < d; i++)
            {
                double b = 0;
                for (long j = 0; j < d; j++)
                {
                    double wt = WPrime(q, j, i);
                    b -= wt * ybar[q * d + j];
                    double mij = dSigma is null ? 0.0 : (dSigma[(q * d + i) * d + j] + dSigma[(q * d + j) * d + i]) / layout.Samples;
                    matrix[(q * d + i) * 2 * d + j] = RowMath.FromDouble<T>(wt);
                    matrix[(q * d + i) * 2 * d + d + j] = RowMath.FromDouble<T>(mij);
                }
                bias[q * d + i] = RowMath.FromDouble<T>(b);
            }
        fixed (T* pm = matrix, pb = bias) Run(work, dy, work, pm, 2 * d, pb, biasPerProblem: true);
        return (work, new[] { dgamma, dbetaTensor });
    }

    /// <summary>dγ_c = Σ over the problems of c's group Σ_j dW′[i, j]·W[i, j] (c = g·d + i), float64 [C].</summary>
    private unsafe double[] GammaGradient(double[] dScaled)
    {
        long d = Layout.D;
        var dgamma = new double[Layout.C];
        double* w = RawTensor.Ptr<double>(Matrix);
        for (long q = 0; q < Layout.Problems; q++)
            for (long i = 0; i < d; i++)
            {
                double sum = 0;
                for (long j = 0; j < d; j++) sum += dScaled[(q * d + i) * d + j] * w[(q * d + i) * d + j];
                dgamma[q % Layout.G * d + i] += sum;
            }
        return dgamma;
    }
}
