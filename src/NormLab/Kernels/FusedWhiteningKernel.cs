using System.Runtime.CompilerServices;
using NormLab.Framework;
using NormLab.Kernels.Cpu;
using NormLab.Operations;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// The fused CPU kernel for batch and instance whitening (PCA, ZCA, Cholesky, IterNorm on batch-group
/// or group areas) with a per-channel γ/β. The mean is a fused float64 row pass; the centered copy and
/// each block's Gram (x − μ)(x − μ)ᵀ one fused pass over the [N·G, d, S] blocks (<see cref="BlockGram"/>;
/// without AVX-512 the centering pass and a LibTorch bmm); W the operation's matrix function as float64 loops
/// that keep their own reverse pass (<see cref="MatrixTape"/>); and W·(x − μ)·γ + β a fused tiled pass written
/// in place; see <see cref="WhiteningCall"/> for the backward.
/// </summary>
internal sealed class FusedWhiteningKernel(Whitening op, Func<double[], long, long, MatrixTape> tape) : NormKernel
{
    public override bool IsNative => false;

    /// <summary>The kernel for a layer's composition, or null when it has none.</summary>
    public static FusedWhiteningKernel? Match(Normalizer layer) =>
        layer.Operation is Whitening op && TapeOf(op) is { } tape
        && layer.Area is ReductionArea r and not Areas.LayerArea
        && r.Reduce.HasFlag(ViewAxes.Channel) && r.Reduce.HasFlag(ViewAxes.Space)
        && FusedKernels.AffineKindOf(layer.Recovery) is AffineKind.None or AffineKind.PerChannel
            ? new FusedWhiteningKernel(op, tape)
            : null;

    /// <summary>
    /// The operation's matrix function as float64 loops with its own reverse pass, (Σ [P·d·d], P, d) ↦ tape;
    /// null for a whitening operation other than the four built in, which then runs its composite.
    /// </summary>
    private static Func<double[], long, long, MatrixTape>? TapeOf(Whitening op) => op switch
    {
        IterativeWhitening itn => (sigma, problems, d) => NewtonSchulzTape.Run(sigma, problems, d, itn.Iterations),
        CholeskyWhitening => CholeskyTape.Run,
        ZcaWhitening => EigenTape.Zca,
        PcaWhitening => EigenTape.Pca,
        _ => null,
    };

    public override unsafe Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
    {
        if (!FusedKernels.Supports(x)) return null;
        var area = (ReductionArea)layer.Area;
        var (w, b) = FusedKernels.Affine(layer.Recovery);
        if (!RawTensor.Matches(w, x, area.Channels) || !RawTensor.Matches(b, x, area.Channels)) return null;
        var xc = x.contiguous();
        long n = x.shape[0], d = area.GroupSize;
        var layout = new WhiteningLayout(n, area.Groups, d, x.numel() / (n * area.Channels), area.Reduce.HasFlag(ViewAxes.Batch));
        var track = op.Track == WhiteningTrack.Matrix ? "wm" : "cov";
        var centered = empty_like(xc);
        double[] mean;
        Tensor matrix;
        Func<double[], double[]>? pullBack = null;
        if (pass.UseRunning)
        {
            var running = pass.Running!;
            mean = Expand(FusedKernels.Values(running["mean"]), layout);
            Center(xc, centered, mean, layout);
            var stored = running[track].detach().to(ScalarType.Float64);
            if (op.Track == WhiteningTrack.Covariance) stored = op.WhiteningMatrix(stored);
            matrix = layout.Batch ? stored.contiguous() : stored.unsqueeze(0).expand(n, -1, -1, -1).reshape(layout.Problems, d, d).contiguous();
        }
        else
        {
            mean = Means(xc, layout);
            var covariance = Covariance(CenterWithGram(xc, centered, mean, layout), layout, op.Eps);
            if (covariance is null) return null;
            var matrixTape = tape(covariance, layout.Problems, d);
            matrix = tensor(matrixTape.Matrix).view(layout.Problems, d, d);
            if (is_grad_enabled() && x.requires_grad) pullBack = matrixTape.PullBack;
            if (pass.Running is { } running)
                running.Update(
                    ("mean", PopulationAverage(mean, layout, d)),
                    (track, PopulationAverage(op.Track == WhiteningTrack.Matrix ? FusedKernels.Values(matrix) : covariance, layout, d * d)));
        }
        var call = new WhiteningCall(layout, centered, mean, matrix.contiguous(), pullBack, batchStatistics: !pass.UseRunning) { Composite = FusedKernels.Composite(layer, pass) };
        return FusedFunction.Apply(call, xc, w, b);
    }

    /// <summary>
    /// Σ per problem, float64 [P·d·d], from the blocks' Grams [blocks, d, d]: summed over each problem's
    /// blocks, divided by its samples, plus eps on the diagonal; null when any entry is not finite. Plain
    /// loops over a few hundred values: the tensor ops they replace (sum, divide, eye, add, isfinite, all,
    /// item) took 0.31–0.41 ms from cold caches in a ZCA or IterNorm forward, these 0.07–0.12 ms.
    /// </summary>
    private static double[]? Covariance(Tensor grams, WhiteningLayout layout, double eps)
    {
        long d = layout.D, block = d * d;
        var sigma = layout.ProblemSums(grams.contiguous());
        for (long e = 0; e < sigma.LongLength; e++)
        {
            sigma[e] = sigma[e] / layout.Samples + (e % block % (d + 1) == 0 ? eps : 0.0);
            if (!double.IsFinite(sigma[e])) return null;
        }
        return sigma;
    }

    /// <summary>Per-problem values [P·width] averaged over the problems of each group (instance whitening: over the samples), [G·width].</summary>
    private static double[] PopulationAverage(double[] perProblem, WhiteningLayout layout, long width)
    {
        var average = new double[layout.G * width];
        long perGroup = layout.Problems / layout.G;
        for (long p = 0; p < layout.Problems; p++)
            for (long e = 0; e < width; e++)
                average[p % layout.G * width + e] += perProblem[p * width + e] / perGroup;
        return average;
    }

    /// <summary>Population means [C] expanded to every problem, [P·d].</summary>
    private static double[] Expand(double[] population, WhiteningLayout layout)
    {
        var mean = new double[layout.Problems * layout.D];
        for (long p = 0; p < layout.Problems; p++)
            Array.Copy(population, (p % layout.G) * layout.D, mean, p * layout.D, layout.D);
        return mean;
    }

    /// <summary>Per-problem channel means in float64 [P·d]: one fused pass of row sums.</summary>
    private static unsafe double[] Means(Tensor x, WhiteningLayout layout)
    {
        long rows = layout.A * layout.C, s = layout.S;
        var rowSums = new double[rows];
        if (x.dtype == ScalarType.Float32) RowSums<float>(x, rowSums, s);
        else RowSums<double>(x, rowSums, s);
        var mean = new double[layout.Problems * layout.D];
        for (long row = 0; row < rows; row++)
        {
            long a = row / layout.C, c = row % layout.C;
            mean[layout.Problem(a * layout.G + c / layout.D) * layout.D + c % layout.D] += rowSums[row] / layout.Samples;
        }
        return mean;
    }

    private static unsafe void RowSums<T>(Tensor x, double[] sums, long s) where T : unmanaged
    {
        fixed (double* ps = sums)
        {
            nint px = (nint)RawTensor.Ptr<T>(x), pss = (nint)ps;
            KernelParallel.For(sums.LongLength, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long row = start; row < end; row++)
                {
                    double s1 = 0, s2 = 0;
                    RowMath.Moments((T*)px + row * s, s, 0.0, ref s1, ref s2);
                    ((double*)pss)[row] = s1;
                }
            });
        }
    }

    /// <summary>
    /// centered = x − μ and each block's Σ_s (x − μ)(x − μ)ᵀ, float64 [blocks, d, d]: with AVX-512 in one pass, the
    /// Gram of each block (<see cref="BlockGram"/>) taken while its centered rows are in cache; elsewhere the
    /// centering pass and a LibTorch bmm.
    /// </summary>
    private static Tensor CenterWithGram(Tensor x, Tensor centered, double[] mean, WhiteningLayout layout)
    {
        long d = layout.D;
        if (!BlockGram.Supported)
        {
            Center(x, centered, mean, layout);
            var blocks = centered.view(layout.Blocks, d, layout.S);
            return blocks.bmm(blocks.transpose(1, 2)).to(ScalarType.Float64);
        }
        var gram = zeros(layout.Blocks, d, d, dtype: ScalarType.Float64);
        Center(x, centered, mean, layout, gram);
        return gram;
    }

    /// <summary>
    /// centered = x − μ, one fused pass over the blocks; with <paramref name="gram"/> (float64 [blocks, d, d]) each
    /// block's Gram is added while the block is in cache, else large outputs use streaming stores.
    /// </summary>
    private static unsafe void Center(Tensor x, Tensor centered, double[] mean, WhiteningLayout layout, Tensor? gram = null)
    {
        if (x.dtype == ScalarType.Float32) Center<float>(x, centered, mean, layout, gram);
        else Center<double>(x, centered, mean, layout, gram);
    }

    private static unsafe void Center<T>(Tensor x, Tensor centered, double[] mean, WhiteningLayout layout, Tensor? gram) where T : unmanaged
    {
        long s = layout.S, d = layout.D;
        fixed (double* pm = mean)
        {
            nint px = (nint)RawTensor.Ptr<T>(x), pc = (nint)RawTensor.Ptr<T>(centered), ms = (nint)pm;
            nint pg = gram is null ? 0 : (nint)RawTensor.Ptr<double>(gram);
            bool stream = gram is null && StreamingStores.For(x);
            KernelParallel.For(layout.Blocks, d * s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long b = start; b < end; b++)
                {
                    double* mu = (double*)ms + layout.Problem(b) * d;
                    T* xb = (T*)px + b * d * s, cb = (T*)pc + b * d * s;
                    for (long i = 0; i < d; i++) RowMath.Affine(xb + i * s, cb + i * s, s, mu[i], 1.0, 0.0, stream: stream);
                    if (pg != 0) BlockGram.Accumulate(cb, cb, s, s, d, (double*)pg + b * d * d);
                }
                StreamingStores.Fence(stream);
            });
        }
    }
}
