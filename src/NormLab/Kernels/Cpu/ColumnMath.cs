using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// SIMD loops for statistics across rows (positional normalization: one statistic per position,
/// over the channels): each row updates per-position float64 accumulators, in vectors of the widest
/// native width (<see cref="IDoubleLanes{TSelf}"/>).
/// </summary>
internal static unsafe class ColumnMath
{
    /// <summary>
    /// s1ⱼ += Σ_c (x_cⱼ − kⱼ) and s2ⱼ += Σ_c (x_cⱼ − kⱼ)² over <paramref name="rows"/> rows <paramref name="stride"/>
    /// apart, k a shift row close to the means (null: no shift). Four rows at a time, so the float64
    /// accumulators are loaded and stored once per four rows, while the next four rows are prefetched.
    /// </summary>
    public static void Moments<T>(T* x, long stride, long rows, T* k, double* s1, double* s2, long n) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated) Moments<T, Lanes8>(x, stride, rows, k, s1, s2, n);
        else Moments<T, Lanes4>(x, stride, rows, k, s1, s2, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Moments<T, V>(T* x, long stride, long rows, T* k, double* s1, double* s2, long n)
        where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        long c = 0;
        for (; c + 4 <= rows; c += 4)
        {
            T* x0 = x + c * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
            T* ahead = c + 8 <= rows ? x3 + stride : null;
            long i = 0;
            for (; i + V.Count <= n; i += V.Count)
            {
                PrefetchBlock(ahead, stride, i);
                var kv = k == null ? V.Zero : V.Widen(k + i);
                var d0 = V.Widen(x0 + i) - kv;
                var d1 = V.Widen(x1 + i) - kv;
                var d2 = V.Widen(x2 + i) - kv;
                var d3 = V.Widen(x3 + i) - kv;
                V.Store(V.Load(s1 + i) + ((d0 + d1) + (d2 + d3)), s1 + i);
                var q = V.FusedMultiplyAdd(d0, d0, V.FusedMultiplyAdd(d1, d1, d2 * d2));
                V.Store(V.FusedMultiplyAdd(d3, d3, q) + V.Load(s2 + i), s2 + i);
            }
            for (; i < n; i++)
                for (long q = 0; q < 4; q++) MomentOne(x0 + q * stride, k, s1, s2, i);
        }
        for (; c < rows; c++)
        {
            T* xc = x + c * stride;
            long i = 0;
            for (; i + V.Count <= n; i += V.Count)
            {
                var d = k == null ? V.Widen(xc + i) : V.Widen(xc + i) - V.Widen(k + i);
                V.Store(V.Load(s1 + i) + d, s1 + i);
                V.Store(V.FusedMultiplyAdd(d, d, V.Load(s2 + i)), s2 + i);
            }
            for (; i < n; i++) MomentOne(xc, k, s1, s2, i);
        }
    }

    /// <summary>
    /// Prefetches the cache line at element <paramref name="i"/> of four rows from <paramref name="row"/> (null: none),
    /// once per 64 bytes. A positional tile reads each channel row for only a few KB, too short for the
    /// hardware prefetcher to follow. Measured on PN with the 8-lane vectors (four alternating bench runs
    /// against the 4-lane loops without prefetch): fwd 1.74–2.08 → 1.18–1.33 ms, bwd 2.19–2.37 → 1.63–1.68 ms,
    /// fwd+bwd 4.05–4.45 → 2.80–2.95 ms; a first cut with 8 lanes and no shared generic code gave 3.75–4.12.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchBlock<T>(T* row, long stride, long i) where T : unmanaged
    {
        if (!Sse.IsSupported || row == null || ((i * sizeof(T)) & 63) != 0) return;
        Sse.Prefetch0(row + i);
        Sse.Prefetch0(row + stride + i);
        Sse.Prefetch0(row + 2 * stride + i);
        Sse.Prefetch0(row + 3 * stride + i);
    }

    /// <summary>
    /// Per position, from the shifted sums of <see cref="Moments{T}"/> over n channel values:
    /// μⱼ = kⱼ + s1ⱼ/n and spreadⱼ = max(s2ⱼ/n − (s1ⱼ/n)², 0), or without a shift row (k null) μⱼ = 0
    /// and spreadⱼ = s2ⱼ/n. Four positions per vector: the per-position scalar loop had cost about
    /// half as much as the statistics pass itself on 16 channels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MeanAndSpread<T>(double* s1, double* s2, T* k, long n, double* mu, double* spread, long count) where T : unmanaged
    {
        var nv = Vector256.Create((double)n);
        long j = 0;
        if (k == null)
        {
            for (; j + 4 <= count; j += 4)
            {
                Vector256.Store(Vector256<double>.Zero, mu + j);
                Vector256.Store(Vector256.Load(s2 + j) / nv, spread + j);
            }
            for (; j < count; j++)
            {
                mu[j] = 0.0;
                spread[j] = s2[j] / n;
            }
            return;
        }
        for (; j + 4 <= count; j += 4)
        {
            var m1 = Vector256.Load(s1 + j) / nv;
            Vector256.Store(RowMath.Load4(k + j) + m1, mu + j);
            Vector256.Store(Vector256.Max(Vector256.Load(s2 + j) / nv - m1 * m1, Vector256<double>.Zero), spread + j);
        }
        for (; j < count; j++)
        {
            double m1 = s1[j] / n;
            mu[j] = RowMath.ToDouble(k[j]) + m1;
            spread[j] = Math.Max(s2[j] / n - m1 * m1, 0.0);
        }
    }

    /// <summary>ḡⱼ = g1ⱼ/n for a centering statistic, else 0, for <paramref name="count"/> positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Mean(double* g1, long n, bool centers, long count)
    {
        if (!centers)
        {
            new Span<double>(g1, (int)count).Clear();
            return;
        }
        var nv = Vector256.Create((double)n);
        long j = 0;
        for (; j + 4 <= count; j += 4) Vector256.Store(Vector256.Load(g1 + j) / nv, g1 + j);
        for (; j < count; j++) g1[j] /= n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MomentOne<T>(T* x, T* k, double* s1, double* s2, long i) where T : unmanaged
    {
        double d = RowMath.ToDouble(x[i]) - (k == null ? 0.0 : RowMath.ToDouble(k[i]));
        s1[i] += d;
        s2[i] += d * d;
    }

    /// <summary>
    /// For <paramref name="rows"/> rows c, <paramref name="stride"/> apart, with γ_c from <paramref name="gamma"/> (null: 1):
    /// g1ⱼ += Σ_c γ_c·dy_cⱼ and g2ⱼ += Σ_c γ_c·dy_cⱼ·(x_cⱼ − μⱼ); <paramref name="sdy"/>[c] += Σⱼ dy_cⱼ and
    /// <paramref name="sdyxhat"/>[c] += Σⱼ dy_cⱼ·(x_cⱼ − μⱼ)·rⱼ (the rows' dβ and dγ contributions; either may be null).
    /// Four rows at a time, prefetching the next four, as in <see cref="Moments{T}"/>.
    /// </summary>
    public static void GradSums<T>(T* dy, T* x, long stride, long rows, long n, double* mu, double* r, T* gamma, double* g1, double* g2,
        double* sdy, double* sdyxhat) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated) GradSums<T, Lanes8>(dy, x, stride, rows, n, mu, r, gamma, g1, g2, sdy, sdyxhat);
        else GradSums<T, Lanes4>(dy, x, stride, rows, n, mu, r, gamma, g1, g2, sdy, sdyxhat);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradSums<T, V>(T* dy, T* x, long stride, long rows, long n, double* mu, double* r, T* gamma, double* g1, double* g2,
        double* sdy, double* sdyxhat) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        long c = 0;
        for (; c + 4 <= rows; c += 4)
        {
            long o0 = c * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
            bool ahead = c + 8 <= rows;
            double ga = Gamma(gamma, c), gb = Gamma(gamma, c + 1), gc = Gamma(gamma, c + 2), gd = Gamma(gamma, c + 3);
            V v0 = V.Broadcast(ga), v1 = V.Broadcast(gb), v2 = V.Broadcast(gc), v3 = V.Broadcast(gd);
            V a0 = V.Zero, a1 = V.Zero, a2 = V.Zero, a3 = V.Zero, b0 = V.Zero, b1 = V.Zero, b2 = V.Zero, b3 = V.Zero;
            long i = 0;
            for (; i + V.Count <= n; i += V.Count)
            {
                if (ahead)
                {
                    PrefetchBlock(x + o3 + stride, stride, i);
                    PrefetchBlock(dy + o3 + stride, stride, i);
                }
                var m = V.Load(mu + i);
                var rv = V.Load(r + i);
                var d0 = V.Widen(dy + o0 + i);
                var d1 = V.Widen(dy + o1 + i);
                var d2 = V.Widen(dy + o2 + i);
                var d3 = V.Widen(dy + o3 + i);
                var e0 = d0 * (V.Widen(x + o0 + i) - m);
                var e1 = d1 * (V.Widen(x + o1 + i) - m);
                var e2 = d2 * (V.Widen(x + o2 + i) - m);
                var e3 = d3 * (V.Widen(x + o3 + i) - m);
                a0 += d0; a1 += d1; a2 += d2; a3 += d3;
                b0 = V.FusedMultiplyAdd(e0, rv, b0);
                b1 = V.FusedMultiplyAdd(e1, rv, b1);
                b2 = V.FusedMultiplyAdd(e2, rv, b2);
                b3 = V.FusedMultiplyAdd(e3, rv, b3);
                var h1 = V.FusedMultiplyAdd(d0, v0, V.FusedMultiplyAdd(d1, v1, V.FusedMultiplyAdd(d2, v2, d3 * v3)));
                var h2 = V.FusedMultiplyAdd(e0, v0, V.FusedMultiplyAdd(e1, v1, V.FusedMultiplyAdd(e2, v2, e3 * v3)));
                V.Store(V.Load(g1 + i) + h1, g1 + i);
                V.Store(V.Load(g2 + i) + h2, g2 + i);
            }
            double t0 = V.Sum(a0), t1 = V.Sum(a1), t2 = V.Sum(a2), t3 = V.Sum(a3);
            double u0 = V.Sum(b0), u1 = V.Sum(b1), u2 = V.Sum(b2), u3 = V.Sum(b3);
            for (; i < n; i++)
            {
                GradSumOne(dy + o0, x + o0, i, mu, r, ga, g1, g2, ref t0, ref u0);
                GradSumOne(dy + o1, x + o1, i, mu, r, gb, g1, g2, ref t1, ref u1);
                GradSumOne(dy + o2, x + o2, i, mu, r, gc, g1, g2, ref t2, ref u2);
                GradSumOne(dy + o3, x + o3, i, mu, r, gd, g1, g2, ref t3, ref u3);
            }
            AddRow(sdy, sdyxhat, c, t0, u0);
            AddRow(sdy, sdyxhat, c + 1, t1, u1);
            AddRow(sdy, sdyxhat, c + 2, t2, u2);
            AddRow(sdy, sdyxhat, c + 3, t3, u3);
        }
        for (; c < rows; c++)
        {
            long o = c * stride;
            double gamma1 = Gamma(gamma, c);
            var gv = V.Broadcast(gamma1);
            V a = V.Zero, b = V.Zero;
            long i = 0;
            for (; i + V.Count <= n; i += V.Count)
            {
                var d = V.Widen(dy + o + i);
                var e = d * (V.Widen(x + o + i) - V.Load(mu + i));
                a += d;
                b = V.FusedMultiplyAdd(e, V.Load(r + i), b);
                V.Store(V.FusedMultiplyAdd(d, gv, V.Load(g1 + i)), g1 + i);
                V.Store(V.FusedMultiplyAdd(e, gv, V.Load(g2 + i)), g2 + i);
            }
            double t = V.Sum(a), u = V.Sum(b);
            for (; i < n; i++) GradSumOne(dy + o, x + o, i, mu, r, gamma1, g1, g2, ref t, ref u);
            AddRow(sdy, sdyxhat, c, t, u);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Gamma<T>(T* gamma, long c) where T : unmanaged => gamma == null ? 1.0 : RowMath.ToDouble(gamma[c]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradSumOne<T>(T* dy, T* x, long i, double* mu, double* r, double gamma, double* g1, double* g2, ref double sdy, ref double sdyxhat)
        where T : unmanaged
    {
        double d = RowMath.ToDouble(dy[i]), e = d * (RowMath.ToDouble(x[i]) - mu[i]);
        sdy += d;
        sdyxhat += e * r[i];
        g1[i] += gamma * d;
        g2[i] += gamma * e;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow(double* sdy, double* sdyxhat, long c, double t, double u)
    {
        if (sdy != null) sdy[c] += t;
        if (sdyxhat != null) sdyxhat[c] += u;
    }

    /// <summary>
    /// yⱼ = (xⱼ − μⱼ)·rⱼ·γ + β in the row's own type, with μ and r given in that type (8 floats or 4 doubles per vector);
    /// streaming stores with <paramref name="stream"/> (<see cref="StreamingStores"/>). <paramref name="ahead"/>, when given,
    /// is the row the caller reads next: n of its elements are prefetched into L2, a cache line at a time (a prefetch never faults, so a
    /// shorter next row is harmless).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NormalizeNative<T>(T* x, T* y, long n, T* mu, T* r, double gamma, double beta, bool stream = false, T* ahead = null) where T : unmanaged
    {
        var g = Vector256.Create(RowMath.FromDouble<T>(gamma));
        var b = Vector256.Create(RowMath.FromDouble<T>(beta));
        long i = 0, lanes = Vector256<T>.Count, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = NormalizeOne(x, mu, r, gamma, beta, i);
        for (; i + lanes <= n; i += lanes)
        {
            if (ahead != null && ((i * sizeof(T)) & 63) == 0) RowMath.Prefetch((byte*)(ahead + i));
            StreamingStores.Put((Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(r + i) * g + b, y + i, stream);
        }
        for (; i < n; i++) y[i] = NormalizeOne(x, mu, r, gamma, beta, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T NormalizeOne<T>(T* x, T* mu, T* r, double gamma, double beta, long i) where T : unmanaged =>
        RowMath.FromDouble<T>((RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(r[i]) * gamma + beta);

    /// <summary>dxⱼ = (γ·dyⱼ − ḡⱼ)·rⱼ + bⱼ·(xⱼ − μⱼ) in the row's own type; <paramref name="stream"/> as in <see cref="NormalizeNative{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradApplyNative<T>(T* dy, T* x, T* dx, long n, T* mu, T* r, double gamma, T* gbar, T* b, bool stream = false) where T : unmanaged
    {
        var gv = Vector256.Create(RowMath.FromDouble<T>(gamma));
        long i = 0, lanes = Vector256<T>.Count, head = StreamingStores.Head(dx, n, stream);
        for (; i < head; i++) dx[i] = GradApplyOne(dy, x, mu, r, gamma, gbar, b, i);
        for (; i + lanes <= n; i += lanes)
            StreamingStores.Put((Vector256.Load(dy + i) * gv - Vector256.Load(gbar + i)) * Vector256.Load(r + i)
                + (Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(b + i), dx + i, stream);
        for (; i < n; i++) dx[i] = GradApplyOne(dy, x, mu, r, gamma, gbar, b, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T GradApplyOne<T>(T* dy, T* x, T* mu, T* r, double gamma, T* gbar, T* b, long i) where T : unmanaged =>
        RowMath.FromDouble<T>((RowMath.ToDouble(dy[i]) * gamma - RowMath.ToDouble(gbar[i])) * RowMath.ToDouble(r[i])
            + (RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(b[i]));
}
