using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// SIMD loops for statistics across rows (positional normalization: one statistic per position,
/// over the channels): each row updates per-position float64 accumulators, four positions per vector.
/// </summary>
internal static unsafe class ColumnMath
{
    /// <summary>
    /// s1ⱼ += Σ_c (x_cⱼ − kⱼ) and s2ⱼ += Σ_c (x_cⱼ − kⱼ)² over <paramref name="rows"/> rows <paramref name="stride"/>
    /// apart, k a shift row close to the means (null: no shift). Four rows at a time, so the float64
    /// accumulators are loaded and stored once per four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Moments<T>(T* x, long stride, long rows, T* k, double* s1, double* s2, long n) where T : unmanaged
    {
        long c = 0;
        for (; c + 4 <= rows; c += 4)
        {
            T* x0 = x + c * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
            long i = 0;
            for (; i + 4 <= n; i += 4)
            {
                var kv = k == null ? Vector256<double>.Zero : RowMath.Load4(k + i);
                var d0 = RowMath.Load4(x0 + i) - kv;
                var d1 = RowMath.Load4(x1 + i) - kv;
                var d2 = RowMath.Load4(x2 + i) - kv;
                var d3 = RowMath.Load4(x3 + i) - kv;
                Vector256.Store(Vector256.Load(s1 + i) + ((d0 + d1) + (d2 + d3)), s1 + i);
                var q = Vector256.FusedMultiplyAdd(d0, d0, Vector256.FusedMultiplyAdd(d1, d1, d2 * d2));
                Vector256.Store(Vector256.FusedMultiplyAdd(d3, d3, q) + Vector256.Load(s2 + i), s2 + i);
            }
            for (; i < n; i++)
                for (long q = 0; q < 4; q++) MomentOne(x0 + q * stride, k, s1, s2, i);
        }
        for (; c < rows; c++)
        {
            T* xc = x + c * stride;
            long i = 0;
            for (; i + 4 <= n; i += 4)
            {
                var d = k == null ? RowMath.Load4(xc + i) : RowMath.Load4(xc + i) - RowMath.Load4(k + i);
                Vector256.Store(Vector256.Load(s1 + i) + d, s1 + i);
                Vector256.Store(Vector256.FusedMultiplyAdd(d, d, Vector256.Load(s2 + i)), s2 + i);
            }
            for (; i < n; i++) MomentOne(xc, k, s1, s2, i);
        }
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
    /// Four rows at a time, as in <see cref="Moments{T}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradSums<T>(T* dy, T* x, long stride, long rows, long n, double* mu, double* r, T* gamma, double* g1, double* g2,
        double* sdy, double* sdyxhat) where T : unmanaged
    {
        long c = 0;
        for (; c + 4 <= rows; c += 4)
        {
            long o0 = c * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
            double ga = Gamma(gamma, c), gb = Gamma(gamma, c + 1), gc = Gamma(gamma, c + 2), gd = Gamma(gamma, c + 3);
            var v0 = Vector256.Create(ga);
            var v1 = Vector256.Create(gb);
            var v2 = Vector256.Create(gc);
            var v3 = Vector256.Create(gd);
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            long i = 0;
            for (; i + 4 <= n; i += 4)
            {
                var m = Vector256.Load(mu + i);
                var rv = Vector256.Load(r + i);
                var d0 = RowMath.Load4(dy + o0 + i);
                var d1 = RowMath.Load4(dy + o1 + i);
                var d2 = RowMath.Load4(dy + o2 + i);
                var d3 = RowMath.Load4(dy + o3 + i);
                var e0 = d0 * (RowMath.Load4(x + o0 + i) - m);
                var e1 = d1 * (RowMath.Load4(x + o1 + i) - m);
                var e2 = d2 * (RowMath.Load4(x + o2 + i) - m);
                var e3 = d3 * (RowMath.Load4(x + o3 + i) - m);
                a0 += d0; a1 += d1; a2 += d2; a3 += d3;
                b0 = Vector256.FusedMultiplyAdd(e0, rv, b0);
                b1 = Vector256.FusedMultiplyAdd(e1, rv, b1);
                b2 = Vector256.FusedMultiplyAdd(e2, rv, b2);
                b3 = Vector256.FusedMultiplyAdd(e3, rv, b3);
                var h1 = Vector256.FusedMultiplyAdd(d0, v0, Vector256.FusedMultiplyAdd(d1, v1, Vector256.FusedMultiplyAdd(d2, v2, d3 * v3)));
                var h2 = Vector256.FusedMultiplyAdd(e0, v0, Vector256.FusedMultiplyAdd(e1, v1, Vector256.FusedMultiplyAdd(e2, v2, e3 * v3)));
                Vector256.Store(Vector256.Load(g1 + i) + h1, g1 + i);
                Vector256.Store(Vector256.Load(g2 + i) + h2, g2 + i);
            }
            double t0 = Vector256.Sum(a0), t1 = Vector256.Sum(a1), t2 = Vector256.Sum(a2), t3 = Vector256.Sum(a3);
            double u0 = Vector256.Sum(b0), u1 = Vector256.Sum(b1), u2 = Vector256.Sum(b2), u3 = Vector256.Sum(b3);
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
            var gv = Vector256.Create(gamma1);
            Vector256<double> a = default, b = default;
            long i = 0;
            for (; i + 4 <= n; i += 4)
            {
                var d = RowMath.Load4(dy + o + i);
                var e = d * (RowMath.Load4(x + o + i) - Vector256.Load(mu + i));
                a += d;
                b = Vector256.FusedMultiplyAdd(e, Vector256.Load(r + i), b);
                Vector256.Store(Vector256.FusedMultiplyAdd(d, gv, Vector256.Load(g1 + i)), g1 + i);
                Vector256.Store(Vector256.FusedMultiplyAdd(e, gv, Vector256.Load(g2 + i)), g2 + i);
            }
            double t = Vector256.Sum(a), u = Vector256.Sum(b);
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
    /// streaming stores with <paramref name="stream"/> (<see cref="StreamingStores"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NormalizeNative<T>(T* x, T* y, long n, T* mu, T* r, double gamma, double beta, bool stream = false) where T : unmanaged
    {
        var g = Vector256.Create(FromDouble<T>(gamma));
        var b = Vector256.Create(FromDouble<T>(beta));
        long i = 0, lanes = Vector256<T>.Count, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = NormalizeOne(x, mu, r, gamma, beta, i);
        for (; i + lanes <= n; i += lanes)
            StreamingStores.Put((Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(r + i) * g + b, y + i, stream);
        for (; i < n; i++) y[i] = NormalizeOne(x, mu, r, gamma, beta, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T NormalizeOne<T>(T* x, T* mu, T* r, double gamma, double beta, long i) where T : unmanaged =>
        FromDouble<T>((RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(r[i]) * gamma + beta);

    /// <summary>dxⱼ = (γ·dyⱼ − ḡⱼ)·rⱼ + bⱼ·(xⱼ − μⱼ) in the row's own type; <paramref name="stream"/> as in <see cref="NormalizeNative{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradApplyNative<T>(T* dy, T* x, T* dx, long n, T* mu, T* r, double gamma, T* gbar, T* b, bool stream = false) where T : unmanaged
    {
        var gv = Vector256.Create(FromDouble<T>(gamma));
        long i = 0, lanes = Vector256<T>.Count, head = StreamingStores.Head(dx, n, stream);
        for (; i < head; i++) dx[i] = GradApplyOne(dy, x, mu, r, gamma, gbar, b, i);
        for (; i + lanes <= n; i += lanes)
            StreamingStores.Put((Vector256.Load(dy + i) * gv - Vector256.Load(gbar + i)) * Vector256.Load(r + i)
                + (Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(b + i), dx + i, stream);
        for (; i < n; i++) dx[i] = GradApplyOne(dy, x, mu, r, gamma, gbar, b, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T GradApplyOne<T>(T* dy, T* x, T* mu, T* r, double gamma, T* gbar, T* b, long i) where T : unmanaged =>
        FromDouble<T>((RowMath.ToDouble(dy[i]) * gamma - RowMath.ToDouble(gbar[i])) * RowMath.ToDouble(r[i])
            + (RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(b[i]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T FromDouble<T>(double v) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return Unsafe.As<double, T>(ref v);
        float f = (float)v;
        return Unsafe.As<float, T>(ref f);
    }
}
