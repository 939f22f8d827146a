using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// SIMD loops over one contiguous row: statistics accumulated in float64 (float32 values are widened
/// first), and elementwise maps computed in the row's own type (the few scalar elements before the first
/// aligned vector and after the last one in float64). T is float or double; each loop is written once over
/// <see cref="Vector256{T}"/> and the JIT removes the type tests.
/// </summary>
/// <remarks>
/// The maps take two vectors (one 64-byte line) per step and prefetch the next row once per line. Measured
/// single-threaded on float32 rows against the former per-type loops (one vector per step and a prefetch
/// per vector for <see cref="GradApply{T}"/>), in elements per ns: <see cref="GradApply{T}"/> 5.7 → 9.4 on a
/// 16 KB row (L1), 5.7–5.8 → 6.2–8.1 on 784 KB (L2), 3.9–5.1 → 4.0–5.0 on 6 MB; <see cref="Affine{T}"/> 10.8–11.5
/// either way. In the kernels, where memory sets the pace, BN, IN, GN, LN and RMSNorm fwd+bwd on
/// [32,64,56,56] moved by at most ±5% (both in one process, alternating calls, medians of 110).
/// </remarks>
internal static unsafe class RowMath
{
    /// <summary>Adds Σ(x − k) and Σ(x − k)² over the row to <paramref name="s1"/>, <paramref name="s2"/> (k: a shift close to the mean).</summary>
    public static void Moments<T>(T* x, long n, double k, ref double s1, ref double s2) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated) Moments<T, Lanes8>(x, n, k, ref s1, ref s2);
        else Moments<T, Lanes4>(x, n, k, ref s1, ref s2);
    }

    /// <summary>
    /// <see cref="Moments{T}"/> in float64 vectors of <typeparamref name="V"/>: four independent accumulators
    /// each, then single vectors, then scalars, so short rows (LN over a last dim of 56) run few scalar steps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Moments<T, V>(T* x, long n, double k, ref double s1, ref double s2) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var kv = V.Broadcast(k);
        V a0 = V.Zero, a1 = V.Zero, a2 = V.Zero, a3 = V.Zero, q0 = V.Zero, q1 = V.Zero, q2 = V.Zero, q3 = V.Zero;
        long i = 0, w = V.Count;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            var d0 = V.Widen(x + i) - kv;
            var d1 = V.Widen(x + i + w) - kv;
            var d2 = V.Widen(x + i + 2 * w) - kv;
            var d3 = V.Widen(x + i + 3 * w) - kv;
            a0 += d0; a1 += d1; a2 += d2; a3 += d3;
            q0 = V.FusedMultiplyAdd(d0, d0, q0);
            q1 = V.FusedMultiplyAdd(d1, d1, q1);
            q2 = V.FusedMultiplyAdd(d2, d2, q2);
            q3 = V.FusedMultiplyAdd(d3, d3, q3);
        }
        for (; i + w <= n; i += w)
        {
            var d = V.Widen(x + i) - kv;
            a0 += d;
            q0 = V.FusedMultiplyAdd(d, d, q0);
        }
        double t1 = V.Sum((a0 + a1) + (a2 + a3)), t2 = V.Sum((q0 + q1) + (q2 + q3));
        for (; i < n; i++)
        {
            double d = ToDouble(x[i]) - k;
            t1 += d;
            t2 += d * d;
        }
        s1 += t1;
        s2 += t2;
    }

    /// <summary>Adds Σ dy and Σ dy·(x − center) over the row.</summary>
    public static void GradSums<T>(T* dy, T* x, long n, double center, ref double sdy, ref double sdyx) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated) GradSums<T, Lanes8>(dy, x, n, center, ref sdy, ref sdyx);
        else GradSums<T, Lanes4>(dy, x, n, center, ref sdy, ref sdyx);
    }

    /// <summary><see cref="GradSums{T}"/> in float64 vectors of <typeparamref name="V"/>, two independent accumulator pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradSums<T, V>(T* dy, T* x, long n, double center, ref double sdy, ref double sdyx) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var cv = V.Broadcast(center);
        V a0 = V.Zero, a1 = V.Zero, b0 = V.Zero, b1 = V.Zero;
        long i = 0, w = V.Count;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            var g0 = V.Widen(dy + i);
            var g1 = V.Widen(dy + i + w);
            a0 += g0; a1 += g1;
            b0 = V.FusedMultiplyAdd(g0, V.Widen(x + i) - cv, b0);
            b1 = V.FusedMultiplyAdd(g1, V.Widen(x + i + w) - cv, b1);
        }
        if (i + w <= n)
        {
            var g0 = V.Widen(dy + i);
            a0 += g0;
            b0 = V.FusedMultiplyAdd(g0, V.Widen(x + i) - cv, b0);
            i += w;
        }
        double t1 = V.Sum(a0 + a1), t2 = V.Sum(b0 + b1);
        for (; i < n; i++)
        {
            double g = ToDouble(dy[i]);
            t1 += g;
            t2 += g * (ToDouble(x[i]) - center);
        }
        sdy += t1;
        sdyx += t2;
    }

    /// <summary>
    /// Elementwise-affine gradient sums over a row: with g = dy·γⱼ (γ absent: 1), adds Σ g and
    /// Σ g·(x − center) to <paramref name="sg"/>, <paramref name="sgx"/>, and accumulates
    /// dγⱼ += dy·(x − center)·r and dβⱼ += dy into the float64 arrays (each may be null).
    /// </summary>
    public static void GradSumsElementwise<T>(T* dy, T* x, long n, double center, double r, T* gamma,
        double* dgamma, double* dbeta, ref double sg, ref double sgx) where T : unmanaged
    {
        if (Vector512.IsHardwareAccelerated) GradSumsElementwise<T, Lanes8>(dy, x, n, center, r, gamma, dgamma, dbeta, ref sg, ref sgx);
        else GradSumsElementwise<T, Lanes4>(dy, x, n, center, r, gamma, dgamma, dbeta, ref sg, ref sgx);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GradSumsElementwise<T, V>(T* dy, T* x, long n, double center, double r, T* gamma,
        double* dgamma, double* dbeta, ref double sg, ref double sgx) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var cv = V.Broadcast(center);
        var rv = V.Broadcast(r);
        V a = V.Zero, b = V.Zero;
        long i = 0;
        for (; i + V.Count <= n; i += V.Count)
        {
            var g = V.Widen(dy + i);
            var xc = V.Widen(x + i) - cv;
            if (dgamma != null) V.Store(V.FusedMultiplyAdd(g * xc, rv, V.Load(dgamma + i)), dgamma + i);
            if (dbeta != null) V.Store(V.Load(dbeta + i) + g, dbeta + i);
            if (gamma != null) g *= V.Widen(gamma + i);
            a += g;
            b = V.FusedMultiplyAdd(g, xc, b);
        }
        double t1 = V.Sum(a), t2 = V.Sum(b);
        for (; i < n; i++)
        {
            double g = ToDouble(dy[i]), xc = ToDouble(x[i]) - center;
            if (dgamma != null) dgamma[i] += g * xc * r;
            if (dbeta != null) dbeta[i] += g;
            if (gamma != null) g *= ToDouble(gamma[i]);
            t1 += g;
            t2 += g * xc;
        }
        sg += t1;
        sgx += t2;
    }

    /// <summary>
    /// y = (x − center)·scale + shift over the row, in the row's own type. <paramref name="ahead"/>, when given,
    /// is the next row the caller will read (same length): it is prefetched into L2 while this one is written,
    /// so memory stays busy while the core works from cache. With <paramref name="stream"/>, y is written
    /// with streaming stores (see <see cref="StreamingStores"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine<T>(T* x, T* y, long n, double center, double scale, double shift, T* ahead = null, bool stream = false)
        where T : unmanaged
    {
        var cv = Vector256.Create(FromDouble<T>(center));
        var av = Vector256.Create(FromDouble<T>(scale));
        var bv = Vector256.Create(FromDouble<T>(shift));
        long i = 0, w = Vector256<T>.Count, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = FromDouble<T>((ToDouble(x[i]) - center) * scale + shift);
        // Two vectors are one 64-byte line: one prefetch per line.
        for (; i + 2 * w <= n; i += 2 * w)
        {
            if (ahead != null) Prefetch((byte*)(ahead + i));
            StreamingStores.Put(Fma(Vector256.Load(x + i) - cv, av, bv), y + i, stream);
            StreamingStores.Put(Fma(Vector256.Load(x + i + w) - cv, av, bv), y + i + w, stream);
        }
        for (; i < n; i++) y[i] = FromDouble<T>((ToDouble(x[i]) - center) * scale + shift);
    }

    /// <summary>Prefetches the cache line at <paramref name="p"/> into L2 (no-op without SSE or for null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(byte* p)
    {
        if (Sse.IsSupported && p != null) Sse.Prefetch1(p);
    }

    /// <summary>y = (x − center)·r·γⱼ + βⱼ over the row (γ absent: 1, β absent: 0); <paramref name="ahead"/> and <paramref name="stream"/> as in <see cref="Affine{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineElementwise<T>(T* x, T* y, long n, double center, double r, T* gamma, T* beta, T* ahead = null, bool stream = false)
        where T : unmanaged
    {
        var cv = Vector256.Create(FromDouble<T>(center));
        var rv = Vector256.Create(FromDouble<T>(r));
        long i = 0, w = Vector256<T>.Count, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
        for (; i + 2 * w <= n; i += 2 * w)
        {
            if (ahead != null) Prefetch((byte*)(ahead + i));
            StreamingStores.Put(AffineElementwiseVector(x, i, cv, rv, gamma, beta), y + i, stream);
            StreamingStores.Put(AffineElementwiseVector(x, i + w, cv, rv, gamma, beta), y + i + w, stream);
        }
        for (; i < n; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> AffineElementwiseVector<T>(T* x, long i, Vector256<T> c, Vector256<T> r, T* gamma, T* beta) where T : unmanaged
    {
        var v = (Vector256.Load(x + i) - c) * r;
        if (gamma != null) v *= Vector256.Load(gamma + i);
        if (beta != null) v += Vector256.Load(beta + i);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T AffineElementwiseOne<T>(T* x, long i, double center, double r, T* gamma, T* beta) where T : unmanaged
    {
        double v = (ToDouble(x[i]) - center) * r;
        if (gamma != null) v *= ToDouble(gamma[i]);
        if (beta != null) v += ToDouble(beta[i]);
        return FromDouble<T>(v);
    }

    /// <summary>
    /// dx = (γ·dy − ḡ)·r + b·(x − center) + c0 over the row, with γ = <paramref name="scale"/>·γⱼ (γ null: 1),
    /// in the row's own type. Subtracting ḡ before scaling by r keeps dx exactly 0 where the statistic has one element.
    /// </summary>
    /// <remarks><paramref name="aheadDy"/> and <paramref name="aheadX"/>, when given, are the next rows the caller will read; they are prefetched into L2.
    /// <paramref name="stream"/> as in <see cref="Affine{T}"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradApply<T>(T* dy, T* x, T* dx, long n, double center, double scale, double gbar, double r, double b, double c0, T* gamma = null,
        T* aheadDy = null, T* aheadX = null, bool stream = false) where T : unmanaged
    {
        var cv = Vector256.Create(FromDouble<T>(center));
        var sv = Vector256.Create(FromDouble<T>(scale));
        var gv = Vector256.Create(FromDouble<T>(gbar));
        var rv = Vector256.Create(FromDouble<T>(r));
        var bv = Vector256.Create(FromDouble<T>(b));
        var c0v = Vector256.Create(FromDouble<T>(c0));
        long i = 0, w = Vector256<T>.Count, head = StreamingStores.Head(dx, n, stream);
        for (; i < head; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
        for (; i + 2 * w <= n; i += 2 * w)
        {
            if (aheadDy != null)
            {
                Prefetch((byte*)(aheadDy + i));
                Prefetch((byte*)(aheadX + i));
            }
            StreamingStores.Put(GradApplyVector(dy, x, i, cv, sv, gv, rv, bv, c0v, gamma), dx + i, stream);
            StreamingStores.Put(GradApplyVector(dy, x, i + w, cv, sv, gv, rv, bv, c0v, gamma), dx + i + w, stream);
        }
        for (; i < n; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> GradApplyVector<T>(T* dy, T* x, long i, Vector256<T> center, Vector256<T> scale, Vector256<T> gbar,
        Vector256<T> r, Vector256<T> b, Vector256<T> c0, T* gamma) where T : unmanaged
    {
        var g = Vector256.Load(dy + i) * scale;
        if (gamma != null) g *= Vector256.Load(gamma + i);
        return Fma(Vector256.Load(x + i) - center, b, Fma(g - gbar, r, c0));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T GradApplyOne<T>(T* dy, T* x, long i, double center, double scale, double gbar, double r, double b, double c0, T* gamma) where T : unmanaged
    {
        double g = ToDouble(dy[i]) * scale;
        if (gamma != null) g *= ToDouble(gamma[i]);
        return FromDouble<T>((ToDouble(x[i]) - center) * b + ((g - gbar) * r + c0));
    }

    /// <summary>a·b + c with one rounding (float or double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    /// <summary>to[i] = from[i] in T (float rounds to nearest) for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow<T>(double* from, T* to, long n) where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            Buffer.MemoryCopy(from, to, n * sizeof(double), n * sizeof(double));
            return;
        }
        float* f = (float*)to;
        long i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Narrow(Vector256.Load(from + i), Vector256.Load(from + i + 4)), f + i);
        for (; i < n; i++) f[i] = (float)from[i];
    }

    /// <summary>Four consecutive values as float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Load4<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return Vector256.Load((double*)p);
        return Vector256.WidenLower(Vector128.Load((float*)p).ToVector256Unsafe());
    }

    /// <summary>A float64 value in T (float rounds to nearest).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromDouble<T>(double v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.BitCast<float, T>((float)v) : Unsafe.BitCast<double, T>(v);

    /// <summary>One value as float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref v) : Unsafe.As<T, double>(ref v);
}
