using System.Runtime.CompilerServices;
namespace NormLab.Kernels.Cpu;

/// <summary>
/// The fused kernel for statistics over the channels of a group at each position (positional
/// normalization; the view [A, G, Cg, S] reducing Cg only). Work items are (sample, group, tile of
/// positions); a tile of every channel row stays in cache between the statistics and the output pass.
/// Statistics are float64 [mean | r | spread] over A·G·S positions.
/// </summary>
internal static unsafe class ColumnEngine
{
    /// <summary>
    /// Positions per tile in the forward, which keeps x's tile in cache; its output pass prefetches the
    /// next tile's rows (docs/ARCHITECTURE.md, "Where LN and RMSNorm over C·H·W stop", has the measurements).
    /// </summary>
    private const int ForwardTile = 1024;

    /// <summary>
    /// Positions per tile in the backward, which keeps x's and dy's tiles in cache: half the forward's,
    /// so both passes hold the same bytes per tile (256 KB at 64 float32 channels). Measured against 1,024
    /// (PN, [32,64,56,56], four alternating bench runs): bwd 2.12–2.31 → 2.00–2.10 ms, fwd+bwd 3.82–3.96 →
    /// 3.61–3.77 ms; 256 measured as 512, 768 as 1,024, and a forward tile of 512 as 1,024.
    /// </summary>
    private const int BackwardTile = 512;

    private readonly record struct Item(long Row0, long Stat0, long Length);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Tiles(long s, int tile) => (s + tile - 1) / tile;

    private static Item ItemAt(RowLayout layout, long i, int tile)
    {
        long tiles = Tiles(layout.S, tile);
        long ag = i / tiles, t = i % tiles;
        long a = ag / layout.G, g = ag % layout.G;
        long s0 = t * tile;
        return new Item((a * layout.C + g * layout.Cg) * layout.S + s0, ag * layout.S + s0, Math.Min(tile, layout.S - s0));
    }

    /// <summary>Forward with batch statistics over the Cg channels of each group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<T>(RowLayout layout, StatOp op, T* x, T* y, T* gamma, T* beta, double* stats) where T : unmanaged
    {
        long items = layout.A * layout.G * Tiles(layout.S, ForwardTile), count = layout.A * layout.G * layout.S, n = layout.Cg, s = layout.S;
        nint px = (nint)x, py = (nint)y, pg = (nint)gamma, pb = (nint)beta, ps = (nint)stats;
        KernelParallel.For(items, n * s / Tiles(s, ForwardTile), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            T* xs = (T*)px, ys = (T*)py, gs = (T*)pg, bs = (T*)pb;
            double* st = (double*)ps;
            double* s1 = stackalloc double[ForwardTile];
            double* s2 = stackalloc double[ForwardTile];
            T* muT = stackalloc T[ForwardTile];
            T* rT = stackalloc T[ForwardTile];
            for (long i = start; i < end; i++)
            {
                var it = ItemAt(layout, i, ForwardTile);
                new Span<double>(s1, ForwardTile).Clear();
                new Span<double>(s2, ForwardTile).Clear();
                T* shift = op.Centers ? xs + it.Row0 : null;
                ColumnMath.Moments(xs + it.Row0, s, n, shift, s1, s2, it.Length);
                double* mu = st + it.Stat0, r = st + count + it.Stat0, spread = st + 2 * count + it.Stat0;
                ColumnMath.MeanAndSpread(s1, s2, shift, n, mu, spread, it.Length);
                op.Factors(n, spread, r, it.Length);
                RowMath.Narrow(mu, muT, it.Length);
                RowMath.Narrow(r, rT, it.Length);
                long c0 = (it.Row0 / s) % layout.C;
                T* next = i + 1 < end ? xs + ItemAt(layout, i + 1, ForwardTile).Row0 : null;
                for (long c = 0; c < n; c++)
                    ColumnMath.NormalizeNative(xs + it.Row0 + c * s, ys + it.Row0 + c * s, it.Length, muT, rT,
                        gs == null ? 1.0 : RowMath.ToDouble(gs[c0 + c]), bs == null ? 0.0 : RowMath.ToDouble(bs[c0 + c]), layout.StreamOutput,
                        next == null ? null : next + c * s);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }

    /// <summary>
    /// Backward: per tile, Σ_c γ·dy and Σ_c γ·dy·(x − μ) per position, then dx; per-chunk float64
    /// accumulators <paramref name="dgamma"/>, <paramref name="dbeta"/> (length C each, or null) receive
    /// Σ dy·x̂ and Σ dy per channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(RowLayout layout, StatOp op, T* x, T* dy, T* dx, T* gamma, double* stats, WorkerSums? dgamma, WorkerSums? dbeta)
        where T : unmanaged
    {
        long items = layout.A * layout.G * Tiles(layout.S, BackwardTile), count = layout.A * layout.G * layout.S, n = layout.Cg, s = layout.S;
        int chunks = KernelParallel.Chunks(items, n * s / Tiles(s, BackwardTile));
        nint px = (nint)x, pdy = (nint)dy, pdx = (nint)dx, pg = (nint)gamma, ps = (nint)stats;
        bool centers = op.Centers;
        KernelParallel.For(items, chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (chunk, start, end) =>
        {
            T* xs = (T*)px, dys = (T*)pdy, dxs = (T*)pdx, gs = (T*)pg;
            double* st = (double*)ps;
            double* dg = dgamma is null ? null : dgamma.For(chunk);
            double* db = dbeta is null ? null : dbeta.For(chunk);
            double* g1 = stackalloc double[BackwardTile];
            double* g2 = stackalloc double[BackwardTile];
            T* muT = stackalloc T[BackwardTile];
            T* rT = stackalloc T[BackwardTile];
            T* g1T = stackalloc T[BackwardTile];
            T* g2T = stackalloc T[BackwardTile];
            for (long i = start; i < end; i++)
            {
                var it = ItemAt(layout, i, BackwardTile);
                new Span<double>(g1, BackwardTile).Clear();
                new Span<double>(g2, BackwardTile).Clear();
                double* mu = st + it.Stat0, r = st + count + it.Stat0, spread = st + 2 * count + it.Stat0;
                long c0 = (it.Row0 / s) % layout.C;
                ColumnMath.GradSums(dys + it.Row0, xs + it.Row0, s, n, it.Length, mu, r, gs == null ? null : gs + c0, g1, g2,
                    db == null ? null : db + c0, dg == null ? null : dg + c0);
                if (dxs == null) continue;
                op.ScaleBySpreadGradient(n, spread, r, g2, it.Length);
                ColumnMath.Mean(g1, n, centers, it.Length);
                RowMath.Narrow(mu, muT, it.Length);
                RowMath.Narrow(r, rT, it.Length);
                RowMath.Narrow(g1, g1T, it.Length);
                RowMath.Narrow(g2, g2T, it.Length);
                for (long c = 0; c < n; c++)
                    ColumnMath.GradApplyNative(dys + it.Row0 + c * s, xs + it.Row0 + c * s, dxs + it.Row0 + c * s, it.Length, muT, rT,
                        gs == null ? 1.0 : RowMath.ToDouble(gs[c0 + c]), g1T, g2T, layout.StreamOutput);
            }
            StreamingStores.Fence(layout.StreamOutput);
        });
    }
}
