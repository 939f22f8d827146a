using System.Runtime.CompilerServices;
namespace NormLab.Kernels.Cpu;

/// <summary>
/// The fused row kernels behind BN, IN, GN, BGN, LN, RMSNorm, mean-only BN and weight
/// standardization. Statistics are independent units of work; each is processed completely by one
/// thread: a statistics pass over its rows, then the output pass while those rows are still in cache.
/// Batch statistics over single strided rows (BN) take the row-major schedule of <see cref="RowStreaming"/>
/// instead. Statistics are stored as float64 [mean | r | spread] arrays of <see cref="RowLayout.StatCount"/> each.
/// Every pass hands statistics to the threads dynamically (<see cref="ForStatistics"/>); the backward's
/// threads accumulate elementwise dγ, dβ in their own float64 buffers. With only a few long rows (LN over
/// C·H·W), a static split lost up to half the time whenever one thread started late.
/// </summary>
internal static unsafe class RowEngine
{
    /// <summary>Forward with batch statistics: fills <paramref name="stats"/> and writes y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBatch<T>(RowLayout layout, StatOp op, AffineKind kind, T* x, T* y, T* gamma, T* beta, double* stats) where T : unmanaged
    {
        if (RowStreaming.Applies(layout, kind, sizeof(T)))
        {
            RowStreaming.ForwardBatch(layout, op, x, y, gamma, beta, stats);
            return;
        }
        long count = layout.StatCount, n = layout.Count, s = layout.S, rows = layout.RowsPerStat;
        bool centers = op.Centers;
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, ps = (nint)stats;
        ForStatistics(layout, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            T* xs = (T*)px;
            double* st = (double*)ps;
            for (long k = start; k < end; k++)
            {
                double shift = centers ? RowMath.ToDouble(xs[layout.Row(k, 0).Index * s]) : 0.0;
                double s1 = 0, s2 = 0;
                for (long j = 0; j < rows; j++)
                    RowMath.Moments(xs + layout.Row(k, j).Index * s, s, shift, ref s1, ref s2);
                var (mean, spread, r) = op.FromSums(shift, s1, s2, n);
                st[k] = mean;
                st[count + k] = r;
                st[2 * count + k] = spread;
                Normalize(layout, kind, k, xs, (T*)py, (T*)pg, (T*)pb, mean, r, k + 1 < end);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }

    /// <summary>Forward with stored population statistics (eval): <paramref name="popMean"/>[q] (null: 0) and <paramref name="popSpread"/>[q] (null: r = 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardStored<T>(RowLayout layout, StatOp op, AffineKind kind, T* x, T* y, T* gamma, T* beta,
        double* popMean, double* popSpread, double* stats) where T : unmanaged
    {
        long count = layout.StatCount;
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, ps = (nint)stats, pm = (nint)popMean, pv = (nint)popSpread;
        ForStatistics(layout, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            double* st = (double*)ps;
            for (long k = start; k < end; k++)
            {
                long q = layout.PopulationIndex(k);
                double mean = pm == 0 || !op.Centers ? 0.0 : ((double*)pm)[q];
                double r = pv == 0 ? 1.0 : op.StoredFactor(((double*)pv)[q]);
                st[k] = mean;
                st[count + k] = r;
                st[2 * count + k] = double.NaN;
                Normalize(layout, kind, k, (T*)px, (T*)py, (T*)pg, (T*)pb, mean, r, k + 1 < end);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }

    /// <summary>The output pass of statistic k; with <paramref name="prefetchNext"/>, row j of statistic k + 1 is prefetched while row j is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalize<T>(RowLayout layout, AffineKind kind, long k, T* x, T* y, T* gamma, T* beta, double mean, double r, bool prefetchNext) where T : unmanaged
    {
        long s = layout.S;
        if (s == 0) return;
        for (long j = 0, rows = layout.RowsPerStat; j < rows; j++)
        {
            var (index, c) = layout.Row(k, j);
            long off = index * s;
            T* ahead = prefetchNext ? x + layout.Row(k + 1, j).Index * s : null;
            double scale = kind == AffineKind.PerChannel && gamma != null ? r * RowMath.ToDouble(gamma[c]) : r;
            double shift = kind == AffineKind.PerChannel && beta != null ? RowMath.ToDouble(beta[c]) : 0.0;
            if (kind == AffineKind.Elementwise)
                RowMath.AffineElementwise(x + off, y + off, s, mean, r, gamma, beta, ahead, layout.StreamOutput);
            else
                RowMath.Affine(x + off, y + off, s, mean, scale, shift, ahead, layout.StreamOutput);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>(worker, start, end) over the statistics, handed out from a shared counter
    /// in ranges of 1/16 of a thread's share, or 1/4 for batch statistics. The output passes prefetch the
    /// next statistic's rows within a range, which batch statistics, strided across the batch, need.
    /// Measured in the forward pass against four static ranges per thread (kernel time, median of 15 calls,
    /// four alternating runs, [32,64,56,56]): RMSNorm 2.05–2.37 → 1.69–1.87 ms, LN 1.80–2.07 → 1.69–2.14
    /// ms, IN unchanged (1.40–1.46 against 1.34–1.51); BGN's forward, in ranges of one statistic, slowed
    /// from 2.3–2.6 to 2.8–3.4 ms (bench medians), and ranges of two did not bring it back.
    /// </summary>
    private static void ForStatistics(RowLayout layout, Action<int, long, long> body)
    {
        long count = layout.StatCount;
        int workers = KernelParallel.Chunks(count, layout.Count, perThread: 1);
        KernelParallel.ForDynamic(count, workers, Math.Max(1, count / ((layout.ReduceA ? 4L : 16L) * workers)), body);
    }

    /// <summary>What a backward call computes and where the parameter gradients go.</summary>
    public sealed class Gradients
    {
        /// <summary>dx, or null when the input needs no gradient.</summary>
        public nint Dx;
        /// <summary>Per-row Σ dy (length A·C; per-channel dβ) or null.</summary>
        public double* RowDy;
        /// <summary>Per-row r·Σ dy·(x − μ) (length A·C; per-channel dγ) or null.</summary>
        public double* RowDyXhat;
        /// <summary>Per-worker float64 accumulators of elementwise dγ and dβ, each of length S, one slot per thread (null: not needed).</summary>
        public WorkerSums? ElementDgamma, ElementDbeta;
    }

    /// <summary>
    /// The fused backward. With batch statistics: a sums pass (Σ dy, Σ dy·(x − μ) per row), then
    /// dx = r·γ·dy + K·(x − μ) + c0 per statistic. With stored statistics: dx = r·γ·dy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(RowLayout layout, StatOp op, AffineKind kind, bool batch, T* x, T* dy, T* gamma, double* stats, Gradients grads)
        where T : unmanaged
    {
        if (RowStreaming.Applies(layout, kind, sizeof(T)))
        {
            RowStreaming.Backward(layout, op, batch, x, dy, gamma, stats, grads);
            return;
        }
        long count = layout.StatCount, n = layout.Count, s = layout.S, rows = layout.RowsPerStat;
        bool needSums = batch || grads.RowDy != null || grads.RowDyXhat != null || grads.ElementDgamma != null || grads.ElementDbeta != null;
        nint px = (nint)x, pdy = (nint)dy, pg = (nint)gamma, ps = (nint)stats;
        ForStatistics(layout, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (worker, start, end) =>
        {
            T* xs = (T*)px, dys = (T*)pdy, gs = (T*)pg, dxs = (T*)grads.Dx;
            double* st = (double*)ps;
            // Each worker zeroes its own accumulators on its first items, in parallel; a worker that got no items has none.
            double* edg = grads.ElementDgamma is { } g ? g.For(worker) : null;
            double* edb = grads.ElementDbeta is { } b ? b.For(worker) : null;
            for (long k = start; k < end; k++)
            {
                double mean = st[k], r = st[count + k], spread = st[2 * count + k];
                double g1 = 0, g2 = 0;
                if (needSums)
                    for (long j = 0; j < rows; j++)
                    {
                        var (index, c) = layout.Row(k, j);
                        long off = index * s;
                        if (kind == AffineKind.Elementwise)
                        {
                            RowMath.GradSumsElementwise(dys + off, xs + off, s, mean, r, gs, edg, edb, ref g1, ref g2);
                            continue;
                        }
                        double sdy = 0, sdyx = 0;
                        RowMath.GradSums(dys + off, xs + off, s, mean, ref sdy, ref sdyx);
                        double gc = gs == null ? 1.0 : RowMath.ToDouble(gs[c]);
                        g1 += gc * sdy;
                        g2 += gc * sdyx;
                        if (grads.RowDy != null) grads.RowDy[index] = sdy;
                        if (grads.RowDyXhat != null) grads.RowDyXhat[index] = r * sdyx;
                    }
                if (dxs == null) continue;
                var (gbar, b2) = op.GradientCoefficients(batch, n, spread, r, g1, g2);
                for (long j = 0; j < rows; j++)
                {
                    var (index, c) = layout.Row(k, j);
                    long off = index * s;
                    long next = k + 1 < end ? layout.Row(k + 1, j).Index * s : -1;
                    T* aheadDy = next < 0 ? null : dys + next, aheadX = next < 0 ? null : xs + next;
                    if (kind == AffineKind.Elementwise)
                        RowMath.GradApply(dys + off, xs + off, dxs + off, s, mean, 1.0, gbar, r, b2, 0.0, gs, aheadDy, aheadX, layout.StreamOutput);
                    else
                        RowMath.GradApply(dys + off, xs + off, dxs + off, s, mean, gs == null ? 1.0 : RowMath.ToDouble(gs[c]), gbar, r, b2, 0.0, null, aheadDy, aheadX, layout.StreamOutput);
                }
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }
}
