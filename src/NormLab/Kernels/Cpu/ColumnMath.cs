using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// SIMD loops for statistics across rows (positional normalization: one statistic per position,
/// over the channels): each row updates per-position float64 accumulators, four positions per vector.
/// </summary>
internal static unsafe class ColumnMath
{
    /// <summary>s1ⱼ += xⱼ − kⱼ and s2ⱼ += (xⱼ − kⱼ)², k a shift row close to the means (null: no shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Moments<T>(T* x, T* k, double* s1, double* s2, long n) where T : unmanaged
    {
        long i = 0;
        for (; i + 4 <= n; i += 4)
        {
            var d = k == null ? RowMath.Load4(x + i) : RowMath.Load4(x + i) - RowMath.Load4(k + i);
            Vector256.Store(Vector256.Load(s1 + i) + d, s1 + i);
            Vector256.Store(Vector256.FusedMultiplyAdd(d, d, Vector256.Load(s2 + i)), s2 + i);
        }
        for (; i < n; i++)
        {
            double d = RowMath.ToDouble(x[i]) - (k == null ? 0.0 : RowMath.ToDouble(k[i]));
            s1[i] += d;
            s2[i] += d * d;
        }
    }

    /// <summary>
    /// g1ⱼ += γ·dyⱼ and g2ⱼ += γ·dyⱼ·(xⱼ − μⱼ); adds Σ dy to <paramref name="sdy"/> and
    /// Σ dy·(x − μ)·r to <paramref name="sdyxhat"/> (the row's dβ and dγ contributions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradSums<T>(T* dy, T* x, long n, double* mu, double* r, double gamma, double* g1, double* g2, ref double sdy, ref double sdyxhat)
        where T : unmanaged
    {
        var gv = Vector256.Create(gamma);
        Vector256<double> a = default, b = default;
        long i = 0;
        for (; i + 4 <= n; i += 4)
        {
            var d = RowMath.Load4(dy + i);
            var xc = RowMath.Load4(x + i) - Vector256.Load(mu + i);
            var dxc = d * xc;
            a += d;
            b = Vector256.FusedMultiplyAdd(dxc, Vector256.Load(r + i), b);
            Vector256.Store(Vector256.FusedMultiplyAdd(d, gv, Vector256.Load(g1 + i)), g1 + i);
            Vector256.Store(Vector256.FusedMultiplyAdd(dxc, gv, Vector256.Load(g2 + i)), g2 + i);
        }
        double t1 = Vector256.Sum(a), t2 = Vector256.Sum(b);
        for (; i < n; i++)
        {
            double d = RowMath.ToDouble(dy[i]), xc = RowMath.ToDouble(x[i]) - mu[i];
            t1 += d;
            t2 += d * xc * r[i];
            g1[i] += gamma * d;
            g2[i] += gamma * d * xc;
        }
        sdy += t1;
        sdyxhat += t2;
    }

    /// <summary>yⱼ = (xⱼ − μⱼ)·rⱼ·γ + β in the row's own type, with μ and r given in that type (8 floats or 4 doubles per vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NormalizeNative<T>(T* x, T* y, long n, T* mu, T* r, double gamma, double beta) where T : unmanaged
    {
        var g = Vector256.Create(FromDouble<T>(gamma));
        var b = Vector256.Create(FromDouble<T>(beta));
        long i = 0, lanes = Vector256<T>.Count;
        for (; i + lanes <= n; i += lanes)
            Vector256.Store((Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(r + i) * g + b, y + i);
        for (; i < n; i++)
            y[i] = FromDouble<T>((RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(r[i]) * gamma + beta);
    }

    /// <summary>dxⱼ = (γ·dyⱼ − ḡⱼ)·rⱼ + bⱼ·(xⱼ − μⱼ) in the row's own type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradApplyNative<T>(T* dy, T* x, T* dx, long n, T* mu, T* r, double gamma, T* gbar, T* b) where T : unmanaged
    {
        var gv = Vector256.Create(FromDouble<T>(gamma));
        long i = 0, lanes = Vector256<T>.Count;
        for (; i + lanes <= n; i += lanes)
            Vector256.Store((Vector256.Load(dy + i) * gv - Vector256.Load(gbar + i)) * Vector256.Load(r + i)
                + (Vector256.Load(x + i) - Vector256.Load(mu + i)) * Vector256.Load(b + i), dx + i);
        for (; i < n; i++)
            dx[i] = FromDouble<T>((RowMath.ToDouble(dy[i]) * gamma - RowMath.ToDouble(gbar[i])) * RowMath.ToDouble(r[i])
                + (RowMath.ToDouble(x[i]) - RowMath.ToDouble(mu[i])) * RowMath.ToDouble(b[i]));
    }

    /// <summary>Converts float64 values to the row type.</summary>
    public static void Convert<T>(double* from, T* to, long n) where T : unmanaged
    {
        for (long i = 0; i < n; i++) to[i] = FromDouble<T>(from[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T FromDouble<T>(double v) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return Unsafe.As<double, T>(ref v);
        float f = (float)v;
        return Unsafe.As<float, T>(ref f);
    }
}
