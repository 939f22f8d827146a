using System.Runtime.CompilerServices;
namespace NormLab.Kernels.Cpu;

/// <summary>
/// The row-major schedule of the per-channel row kernels, for batch statistics over rows strided far
/// apart (BN, mean-only BN, BGN). Instead of finishing one statistic at a time, every pass streams
/// over all rows in memory order: per-row sums, a cheap per-statistic combine, then the elementwise pass
/// over the rows in memory order again.
/// </summary>
/// <remarks>
/// Why: a BN statistic at [32,64,56,56] is 32 rows of 12.5 KB, 784 KB apart. Measured, the statistic-major
/// schedule did not keep them in L2 between its two passes (reading a channel's rows a second time cost as
/// much as the first) and strided reads ran at under half the sequential rate, so BN ran at half the
/// speed of IN on the same tensor.
/// Per-row sums use the statistic's own shift (its first element), so rows combine exactly as in the
/// statistic-major schedule.
/// Both passes run in memory order. The elementwise pass used to run in reverse, to start on the rows the
/// first pass had left in the last-level cache; on a second host (a Firecracker guest on AMD EPYC Zen 5,
/// copy at 70 GB/s) that made BN fwd+bwd 4.9–5.3 ms against 3.9–4.1 ms in memory order (three alternating
/// runs). Channel blocks sized to keep a block's rows within half the L3 between the passes did not help
/// either (BN fwd+bwd 4.1–4.3 ms against 3.8–4.1 unblocked): the second read of x costs what the first does.
/// The L3 this guest really gives one process is smaller than the 32 MiB sysfs reports: two threads
/// re-reading one buffer ran at 63–66 GB/s up to 8 MB, 53 at 12 MB, 39 at 16 MB and 23–25 (memory) from 24 MB
/// on. Backward blocks of 4 and 8 MB of x and dy (5 and 10 channels) were slower still: bwd 4.1–6.7 and
/// 5.5–5.8 ms against 3.8 unblocked (two alternating runs, copy at 28–30 GB/s); a block reads 5 or 10
/// contiguous rows per sample, then jumps 784 KB.
/// Nor did starting the backward's output pass on the rows its sums pass read last, still ascending and
/// wrapping around to the first, so that half or 80% of an L3's worth of x and dy could come from cache:
/// BN bwd 1.83–1.88 and 1.83–1.85 ms against 1.79–1.83 (the fast-phase rounds of four alternating runs).
/// Nor did a pipeline over blocks of whole statistics (one core reading block b + 1 for its statistics while
/// the other writes block b), although a stand-alone loop with that shape beat two plain passes (BN-like
/// forward 1.03–1.34 against 1.59–2.05 ms, with a plain sum for the statistics): here the statistics of
/// 2-channel blocks read on one core took 1.54–1.74 ms, and the forward came to 1.9–2.1 ms against 1.31–1.46
/// (fast phase), or with 4–8 MB blocks 1.69–1.85 against 1.78 (slow phase). The shifted moments are what
/// costs: in the stand-alone loop on one core they took 1.61 ms over 2-channel blocks read sample by
/// sample against 0.68 ms row-major, where a plain sum took 1.01–1.03 against 0.73–0.75 (medians).
/// Prefetching the next row inside the moments loop brought the stand-alone figure to 0.86 ms, but the
/// pipelined forward with it measured 1.65–1.67 against 1.75 ms (slow phase) and 1.66 against 1.39 (fast).
/// Timed inside the kernel with fixed roles, the reading core took 1.1–1.4 ms for the whole tensor's
/// statistics and the writing core about as long for the output (each near 20 GB/s), so on two cores a
/// pipeline only moves the same per-core work around; the row-major passes give each core half of both.
/// BGN (statistics over runs of Cg channels) measured faster row-major once both schedules ran in memory
/// order (32 groups of 2 channels, three alternating runs: fwd 2.37–2.65 → 1.84–2.05 ms, fwd+bwd 4.81–5.00 →
/// 4.38–4.49 ms).
/// </remarks>
internal static unsafe class RowStreaming
{
    /// <summary>Bytes of one statistic's rows above which a strided layout streams.</summary>
    public const long StatBytes = 128 * 1024;

    /// <summary>Whether <paramref name="layout"/> with per-channel affine uses this schedule for elements of <paramref name="elementSize"/> bytes.</summary>
    public static bool Applies(RowLayout layout, AffineKind kind, int elementSize) =>
        kind != AffineKind.Elementwise && layout.ReduceA && layout.A > 1 && layout.Count * elementSize > StatBytes;

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over the rows in small ranges handed out dynamically
    /// (1/32 of a thread's share each). Measured against
    /// about four static ranges per thread (the median of 20 kernel calls, two alternating runs each): BN
    /// backward 3.01–3.17 → 2.71–2.80 ms, forward unchanged. Finer ranges did not help the other kernels
    /// (LN, whose few long rows make coarse ranges better, slowed down).
    /// </summary>
    private static void Rows(long count, long rowLength, Action<long, long> body)
    {
        int workers = KernelParallel.Chunks(count, rowLength, perThread: 1);
        KernelParallel.ForDynamic(count, workers, Math.Max(1, count / (32L * workers)), (_, start, end) => body(start, end));
    }

    /// <summary>Forward with batch statistics (see <see cref="RowEngine.ForwardBatch{T}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardBatch<T>(RowLayout layout, StatOp op, T* x, T* y, T* gamma, T* beta, double* stats) where T : unmanaged
    {
        long count = layout.StatCount, n = layout.Count, s = layout.S;
        bool centers = op.Centers;
        using var shift = new NativeBuffer(count);
        for (long k = 0; k < count; k++) shift.Pointer[k] = centers ? RowMath.ToDouble(x[layout.Row(k, 0).Index * s]) : 0.0;
        using var rowSums = new NativeBuffer(2 * layout.Rows);
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, pk = (nint)shift.Pointer, prs = (nint)rowSums.Pointer;
        long rowCount = layout.Rows;
        Rows(rowCount, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            double* sums = (double*)prs;
            for (long i = start; i < end; i++)
            {
                double s1 = 0, s2 = 0;
                RowMath.Moments((T*)px + i * s, s, ((double*)pk)[layout.StatOfRow(i)], ref s1, ref s2);
                sums[i] = s1;
                sums[rowCount + i] = s2;
            }
        });
        for (long k = 0; k < count; k++)
        {
            double s1 = 0, s2 = 0;
            for (long j = 0; j < layout.RowsPerStat; j++)
            {
                long i = layout.Row(k, j).Index;
                s1 += rowSums.Pointer[i];
                s2 += rowSums.Pointer[rowCount + i];
            }
            (stats[k], stats[2 * count + k], stats[count + k]) = op.FromSums(shift.Pointer[k], s1, s2, n);
        }
        nint ps = (nint)stats;
        Rows(rowCount, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            double* st = (double*)ps;
            T* g = (T*)pg, b = (T*)pb;
            for (long i = start; i < end; i++)
            {
                long k = layout.StatOfRow(i), c = i % layout.C;
                double scale = g == null ? st[count + k] : st[count + k] * RowMath.ToDouble(g[c]);
                double offset = b == null ? 0.0 : RowMath.ToDouble(b[c]);
                RowMath.Affine((T*)px + i * s, (T*)py + i * s, s, st[k], scale, offset, stream: layout.StreamOutput);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }

    /// <summary>Backward (see <see cref="RowEngine.Backward{T}"/>), per-channel affine only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(RowLayout layout, StatOp op, bool batch, T* x, T* dy, T* gamma, double* stats, RowEngine.Gradients grads)
        where T : unmanaged
    {
        long count = layout.StatCount, n = layout.Count, s = layout.S, rowCount = layout.Rows;
        bool needSums = batch || grads.RowDy != null || grads.RowDyXhat != null;
        using var rowSums = new NativeBuffer(needSums ? 2 * rowCount : 0);
        nint px = (nint)x, pdy = (nint)dy, pg = (nint)gamma, ps = (nint)stats, prs = (nint)rowSums.Pointer;
        if (needSums) Rows(rowCount, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            double* st = (double*)ps, sums = (double*)prs;
            for (long i = start; i < end; i++)
            {
                double sdy = 0, sdyx = 0;
                RowMath.GradSums((T*)pdy + i * s, (T*)px + i * s, s, st[layout.StatOfRow(i)], ref sdy, ref sdyx);
                sums[i] = sdy;
                sums[rowCount + i] = sdyx;
            }
        });
        // Per statistic: gbar = Σγ·Σdy / n and b = 2r′/n · Σγ·Σdy(x − μ); the parameter gradients per row.
        using var coefficients = new NativeBuffer(2 * count);
        for (long k = 0; k < count && needSums; k++)
        {
            double g1 = 0, g2 = 0, r = stats[count + k];
            for (long j = 0; j < layout.RowsPerStat; j++)
            {
                var (i, c) = layout.Row(k, j);
                double sdy = rowSums.Pointer[i], sdyx = rowSums.Pointer[rowCount + i];
                double gc = gamma == null ? 1.0 : RowMath.ToDouble(gamma[c]);
                g1 += gc * sdy;
                g2 += gc * sdyx;
                if (grads.RowDy != null) grads.RowDy[i] = sdy;
                if (grads.RowDyXhat != null) grads.RowDyXhat[i] = r * sdyx;
            }
            (coefficients.Pointer[k], coefficients.Pointer[count + k]) = op.GradientCoefficients(batch, n, stats[2 * count + k], r, g1, g2);
        }
        if (grads.Dx == 0) return;
        nint pco = (nint)coefficients.Pointer;
        Rows(rowCount, s, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            double* st = (double*)ps, co = (double*)pco;
            T* g = (T*)pg;
            for (long i = start; i < end; i++)
            {
                long k = layout.StatOfRow(i), c = i % layout.C;
                RowMath.GradApply((T*)pdy + i * s, (T*)px + i * s, (T*)grads.Dx + i * s, s, st[k], g == null ? 1.0 : RowMath.ToDouble(g[c]),
                    co[k], st[count + k], co[count + k], 0.0, stream: layout.StreamOutput);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }
}
