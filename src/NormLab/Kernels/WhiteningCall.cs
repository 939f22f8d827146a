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
}

/// <summary>
/// A call of the fused whitening-application kernel: y = γ·W·(x − μ) + β per block, with the centered
/// input already in <see cref="Centered"/> (it becomes y in place). The covariance and W were computed
/// before the call (the block products or LibTorch's bmm, and the operation's matrix function); when x needs a gradient,
/// W's graph back to a leaf Σ is kept, and backward pulls dΣ through it with a nested autograd call.
/// Backward: per block, x − μ, Σ dy and dW′ = Σ dy·(x − μ)ᵀ in one pass (<see cref="BlockGram"/>; without
/// AVX-512, LibTorch's bmm), then in one tiled pass
/// dx = W′ᵀ·(dy − ȳ) + M·(x − μ) with M = (dΣ + dΣᵀ)/m (ȳ and M only with batch statistics).
/// </summary>
internal sealed class WhiteningCall : FusedCall
{
    public WhiteningCall(WhiteningLayout layout, Tensor centered, double[] mean, Tensor matrix, Tensor? sigmaLeaf, Tensor? matrixGraph, bool batchStatistics)
    {
        // The small tensors live as long as this call (the autograd node keeps it), not as long as the
        // caller's dispose scope; the finalizer releases them with the node.
        Layout = layout;
        Centered = centered;
        Mean = mean;
        Matrix = matrix.DetachFromDisposeScope();
        SigmaLeaf = sigmaLeaf?.DetachFromDisposeScope();
        MatrixGraph = matrixGraph?.DetachFromDisposeScope();
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

    /// <summary>Σ as a leaf and W computed from it (with graph), or null when x needs no gradient through W.</summary>
    public Tensor? SigmaLeaf { get; }
    public Tensor? MatrixGraph { get; }

    /// <summary>Whether μ and W come from the batch (their gradients reach x).</summary>
    public bool BatchStatistics { get; }

    /// <summary>γ·W in x's dtype, [P, d, d], set by forward.</summary>
    private Tensor? _scaled;

    public override Tensor Forward(Tensor x, Tensor?[] parameters, List<Tensor> saved)
    {
        _scaled = Scaled(parameters[0]).to(x.dtype).contiguous().DetachFromDisposeScope();
        var beta = parameters[1];
        if (x.dtype == ScalarType.Float32) Run<float>(Centered, Centered, null, _scaled, beta);
        else Run<double>(Centered, Centered, null, _scaled, beta);
        return Centered;
    }

    /// <summary>γ ⊙ W (row i of group g scaled by γ_{g·d+i}), float64 [P, d, d].</summary>
    private Tensor Scaled(Tensor? gamma)
    {
        if (gamma is null) return Matrix;
        var g = gamma.detach().to(ScalarType.Float64).view(1, Layout.G, Layout.D, 1);
        var w = Matrix.view(-1, Layout.G, Layout.D, Layout.D);
        return (w * g).view(Layout.Problems, Layout.D, Layout.D);
    }

    /// <summary>Runs the tiled matrix over every block: out = M_p·[first; second] + bias (bias per problem [P·d] or per channel [C]).</summary>
    private unsafe void Run<T>(Tensor output, Tensor first, Tensor? second, Tensor matrix, Tensor? bias, bool biasPerProblem = false) where T : unmanaged
    {
        var layout = Layout;
        long k = matrix.shape[2], s = layout.S, d = layout.D;
        nint po = (nint)RawTensor.Ptr<T>(output), pf = (nint)RawTensor.Ptr<T>(first), ps = (nint)RawTensor.Ptr<T>(second),
            pm = (nint)RawTensor.Ptr<T>(matrix), pb = (nint)RawTensor.Ptr<T>(bias);
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
        if (layout.Batch) dScaled = dScaled.view(layout.A, layout.G, d, d).sum(new long[] { 0 });
        var dbeta = new double[layout.C];
        var ybar = new double[p * d];
        for (long row = 0; row < rows; row++)
        {
            long a = row / layout.C, c = row % layout.C;
            dbeta[c] += rowDy[row];
            ybar[layout.Problem(a * layout.G + c / d) * d + c % d] += rowDy[row] / layout.Samples;
        }
        Tensor? dgamma = null;
        if (GradShapes[0] is not null)
            dgamma = (dScaled * Matrix).sum(new long[] { -1 }).view(-1, layout.C).sum(new long[] { 0 }).to(x.dtype).reshape(GradShapes[0]!);
        Tensor? dbetaTensor = GradShapes[1] is null ? null : FusedKernels.Gradient(dbeta, GradShapes[1]!, x.dtype);
        if (!NeedInput) return (null, new[] { dgamma, dbetaTensor });

        // dx = W′ᵀ·dy − W′ᵀ·ȳ + M·(x − μ), M = (dΣ + dΣᵀ)/m, computed in place over the centered copy.
        var scaledT = _scaled!.to(ScalarType.Float64).transpose(1, 2);
        Tensor matrix;
        Tensor? bias = null;
        if (BatchStatistics)
        {
            var dW = gamma is null ? dScaled : dScaled * gamma.detach().to(ScalarType.Float64)
                .view(1, layout.G, d, 1).expand(layout.Batch ? 1 : layout.A, layout.G, d, 1).reshape(p, d, 1);
            var m = zeros(p, d, d, dtype: ScalarType.Float64);
            if (SigmaLeaf is not null && MatrixGraph is not null)
            {
                var dSigma = autograd.grad(new[] { MatrixGraph }, new[] { SigmaLeaf }, new[] { dW.reshape(MatrixGraph.shape) }, retain_graph: true)[0];
                m = (dSigma + dSigma.transpose(1, 2)) / layout.Samples;
            }
            matrix = cat(new[] { scaledT, m }, 2).to(x.dtype).contiguous();
            bias = (-scaledT.bmm(tensor(ybar).view(p, d, 1))).to(x.dtype).contiguous();
            if (x.dtype == ScalarType.Float32) Run<float>(work, dy, work, matrix, bias, biasPerProblem: true);
            else Run<double>(work, dy, work, matrix, bias, biasPerProblem: true);
        }
        else
        {
            matrix = scaledT.to(x.dtype).contiguous();
            if (x.dtype == ScalarType.Float32) Run<float>(work, dy, null, matrix, null);
            else Run<double>(work, dy, null, matrix, null);
        }
        return (work, new[] { dgamma, dbetaTensor });
    }
}
