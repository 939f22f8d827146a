using System.Runtime.CompilerServices;
namespace NormLab.Kernels.Cpu;

/// <summary>
/// The fused row kernels behind BN, IN, GN, BGN, LN, RMSNorm, mean-only BN and weight
/// standardization. Statistics are independent units of work; each is processed completely by one
/// thread: a statistics pass over its rows, then the output pass while those rows are still in cache.
/// Statistics are stored as float64 [mean | r | spread] arrays of <see cref="RowLayout.StatCount"/> each.
/// </summary>
internal static unsafe class RowEngine
{
    /// <summary>Forward with batch statistics: fills <paramref name="stats"/> and writes y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBatch<T>(RowLayout layout, StatOp op, AffineKind kind, T* x, T* y, T* gamma, T* beta, double* stats) where T : unmanaged
    {
        long count = layout.StatCount, n = layout.Count, s = layout.S, rows = layout.RowsPerStat;
        bool centers = op.Centers;
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, ps = (nint)stats;
        KernelParallel.For(count, n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            T* xs = (T*)px;
            double* st = (double*)ps;
            for (long k = start; k < end; k++)
            {
                double shift = centers ? RowMath.ToDouble(xs[layout.Row(k, 0).Index * s]) : 0.0;
                double s1 = 0, s2 = 0;
                for (long j = 0; j < rows; j++)
                    RowMath.Moments(xs + layout.Row(k, j).Index * s, s, shift, ref s1, ref s2);
                double m1 = s1 / n;
                double mean = centers ? shift + m1 : 0.0;
                double spread = centers ? Math.Max(s2 / n - m1 * m1, 0.0) : s2 / n;
                double r = op.Factor(n, spread);
                st[k] = mean;
                st[count + k] = r;
                st[2 * count + k] = spread;
                Normalize(layout, kind, k, xs, (T*)py, (T*)pg, (T*)pb, mean, r, k + 1 < end);
            }
        });
    }

    /// <summary>Forward with stored population statistics (eval): <paramref name="popMean"/>[q] (null: 0) and <paramref name="popSpread"/>[q] (null: r = 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardStored<T>(RowLayout layout, StatOp op, AffineKind kind, T* x, T* y, T* gamma, T* beta,
        double* popMean, double* popSpread, double* stats) where T : unmanaged
    {
        long count = layout.StatCount;
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, ps = (nint)stats, pm = (nint)popMean, pv = (nint)popSpread;
        KernelParallel.For(count, layout.Count, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
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
        });
    }

    /// <summary>The output pass of statistic k; with <paramref name="prefetchNext"/>, row j of statistic k + 1 is prefetched while row j is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Normalize<T>(RowLayout layout, AffineKind kind, long k, T* x, T* y, T* gamma, T* beta, double mean, double r, bool prefetchNext) where T : unmanaged
    {
        long s = layout.S;
        for (long j = 0, rows = layout.RowsPerStat; j < rows; j++)
        {
            var (index, c) = layout.Row(k, j);
            long off = index * s;
            T* ahead = prefetchNext ? x + layout.Row(k + 1, j).Index * s : null;
            if (kind == AffineKind.Elementwise && s > LongRow)
            {
                // A row longer than L2: write it back to front, starting where the statistics pass ended (still in cache).
                for (long j0 = (s - 1) / Segment * Segment; j0 >= 0; j0 -= Segment)
                    RowMath.AffineElementwise(x + off + j0, y + off + j0, Math.Min(Segment, s - j0), mean, r,
                        gamma == null ? null : gamma + j0, beta == null ? null : beta + j0);
            }
            else if (kind == AffineKind.Elementwise)
                RowMath.AffineElementwise(x + off, y + off, s, mean, r, gamma, beta, ahead);
            else
            {
                double scale = gamma == null ? r : r * RowMath.ToDouble(gamma[c]);
                double shift = beta == null ? 0.0 : RowMath.ToDouble(beta[c]);
                RowMath.Affine(x + off, y + off, s, mean, scale, shift, ahead);
            }
        }
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
        /// <summary>Per-chunk float64 accumulators of elementwise dγ and dβ, each of length S (null entries when not needed).</summary>
        public NativeBuffer?[]? ElementDgamma, ElementDbeta;
    }

    /// <summary>
    /// The fused backward. With batch statistics: a sums pass (Σ dy, Σ dy·(x − μ) per row), then
    /// dx = r·γ·dy + K·(x − μ) + c0 per statistic. With stored statistics: dx = r·γ·dy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(RowLayout layout, StatOp op, AffineKind kind, bool batch, T* x, T* dy, T* gamma, double* stats, Gradients grads)
        where T : unmanaged
    {
        long count = layout.StatCount, n = layout.Count, s = layout.S, rows = layout.RowsPerStat;
        bool needSums = batch || grads.RowDy != null || grads.RowDyXhat != null || grads.ElementDgamma != null || grads.ElementDbeta != null;
        int chunks = kind == AffineKind.Elementwise ? KernelParallel.Chunks(count, n, perThread: 1) : KernelParallel.Chunks(count, n);
        if (grads.ElementDgamma is { } eg) for (int i = 0; i < chunks; i++) eg[i] = new NativeBuffer(s);
        if (grads.ElementDbeta is { } eb) for (int i = 0; i < chunks; i++) eb[i] = new NativeBuffer(s);
        nint px = (nint)x, pdy = (nint)dy, pg = (nint)gamma, ps = (nint)stats;
        KernelParallel.For(count, chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, start, end) =>
        {
            T* xs = (T*)px, dys = (T*)pdy, gs = (T*)pg, dxs = (T*)grads.Dx;
            double* st = (double*)ps;
            double* edg = grads.ElementDgamma is { } g ? g[chunk]!.Pointer : null;
            double* edb = grads.ElementDbeta is { } b ? b[chunk]!.Pointer : null;
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
                double b2 = batch ? op.SpreadGradient(n, spread, r) * g2 : 0.0;
                double gbar = batch && op.Centers ? g1 / n : 0.0;
                for (long j = 0; j < rows; j++)
                {
                    var (index, c) = layout.Row(k, j);
                    long off = index * s;
                    long next = k + 1 < end ? layout.Row(k + 1, j).Index * s : -1;
                    T* aheadDy = next < 0 ? null : dys + next, aheadX = next < 0 ? null : xs + next;
                    if (kind == AffineKind.Elementwise)
                        RowMath.GradApply(dys + off, xs + off, dxs + off, s, mean, 1.0, gbar, r, b2, 0.0, gs, aheadDy, aheadX);
                    else
                        RowMath.GradApply(dys + off, xs + off, dxs + off, s, mean, gs == null ? 1.0 : RowMath.ToDouble(gs[c]), gbar, r, b2, 0.0, null, aheadDy, aheadX);
                }
            }
        });
    }

    /// <summary>Rows longer than this use <see cref="BackwardElementwiseTiled"/>: per-thread dγ, dβ accumulators of the whole row would not fit in cache.</summary>
    public const long LongRow = 16384;

    /// <summary>Elements per segment when a long row is written back to front.</summary>
    private const long Segment = 4096;

    /// <summary>Positions per tile of <see cref="BackwardElementwiseTiled"/>.</summary>
    private const long PositionTile = 2048;

    /// <summary>
    /// Elementwise-affine backward for long rows (layer areas over large trailing shapes): pass 1 runs
    /// over tiles of positions, each tile owning its slice of dγ, dβ and writing per-(tile, row) partial
    /// sums; pass 2 writes dx per (row, tile). <paramref name="dgamma"/>, <paramref name="dbeta"/>
    /// (length S, zeroed, or null) receive the parameter gradients.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardElementwiseTiled<T>(RowLayout layout, StatOp op, bool batch, T* x, T* dy, T* dx, T* gamma, double* stats,
        double* dgamma, double* dbeta) where T : unmanaged
    {
        long count = layout.StatCount, n = layout.Count, s = layout.S, tiles = (s + PositionTile - 1) / PositionTile;
        using var partial = new NativeBuffer(2 * tiles * count);
        nint px = (nint)x, pdy = (nint)dy, pdx = (nint)dx, pg = (nint)gamma, ps = (nint)stats, pp = (nint)partial.Pointer, pdg = (nint)dgamma, pdb = (nint)dbeta;
        KernelParallel.For(tiles, count * PositionTile, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            double* st = (double*)ps, part = (double*)pp;
            for (long t = start; t < end; t++)
            {
                long j0 = t * PositionTile, len = Math.Min(PositionTile, s - j0);
                for (long k = 0; k < count; k++)
                {
                    long off = layout.Row(k, 0).Index * s + j0;
                    double g1 = 0, g2 = 0;
                    RowMath.GradSumsElementwise((T*)pdy + off, (T*)px + off, len, st[k], st[count + k], pg == 0 ? null : (T*)pg + j0,
                        pdg == 0 ? null : (double*)pdg + j0, pdb == 0 ? null : (double*)pdb + j0, ref g1, ref g2);
                    part[t * count + k] = g1;
                    part[(tiles + t) * count + k] = g2;
                }
            }
        });
        if (dx == null) return;
        var coefficients = new double[2 * count];
        for (long k = 0; k < count; k++)
        {
            double g1 = 0, g2 = 0;
            for (long t = 0; t < tiles; t++)
            {
                g1 += partial.Pointer[t * count + k];
                g2 += partial.Pointer[(tiles + t) * count + k];
            }
            double r = stats[count + k];
            coefficients[k] = batch && op.Centers ? g1 / n : 0.0;
            coefficients[count + k] = batch ? op.SpreadGradient(n, stats[2 * count + k], r) * g2 : 0.0;
        }
        fixed (double* pc = coefficients)
        {
            nint cs = (nint)pc;
            KernelParallel.For(count * tiles, PositionTile, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                double* st = (double*)ps, co = (double*)cs;
                for (long i = end - 1; i >= start; i--)
                {
                    long k = i / tiles, j0 = i % tiles * PositionTile, len = Math.Min(PositionTile, s - j0);
                    long off = layout.Row(k, 0).Index * s + j0;
                    RowMath.GradApply((T*)pdy + off, (T*)px + off, (T*)pdx + off, len, st[k], 1.0, co[k], st[count + k], co[count + k], 0.0,
                        pg == 0 ? null : (T*)pg + j0);
                }
            }, reverse: true);
        }
    }
}
