using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// SIMD loops over one contiguous row: statistics accumulated in float64 (float32 values are widened
/// first), and elementwise maps computed in the row's own type. T is float or double; the JIT removes
/// the type tests.
/// </summary>
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
    /// y = (x − center)·scale + shift over the row. <paramref name="ahead"/>, when given, is the
    /// next row the caller will read (same length): it is prefetched into L2 while this one is written,
    /// so memory stays busy while the core works from cache. With <paramref name="stream"/>, y is written
    /// with streaming stores (see <see cref="StreamingStores"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine<T>(T* x, T* y, long n, double center, double scale, double shift, T* ahead = null, bool stream = false) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) AffineF((float*)x, (float*)y, n, (float)center, (float)scale, (float)shift, (byte*)ahead, stream);
        else AffineD((double*)x, (double*)y, n, center, scale, shift, (byte*)ahead, stream);
    }

    /// <summary>Prefetches the cache line at <paramref name="p"/> into L2 (no-op without SSE or for null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(byte* p)
    {
        if (Sse.IsSupported && p != null) Sse.Prefetch1(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineF(float* x, float* y, long n, float center, float scale, float shift, byte* ahead, bool stream)
    {
        var c = Vector256.Create(center);
        var a = Vector256.Create(scale);
        var b = Vector256.Create(shift);
        long i = 0, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = (x[i] - center) * scale + shift;
        for (; i + 16 <= n; i += 16)
        {
            if (ahead != null) Prefetch(ahead + i * sizeof(float));
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - c, a, b), y + i, stream);
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8) - c, a, b), y + i + 8, stream);
        }
        for (; i < n; i++) y[i] = (x[i] - center) * scale + shift;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineD(double* x, double* y, long n, double center, double scale, double shift, byte* ahead, bool stream)
    {
        var c = Vector256.Create(center);
        var a = Vector256.Create(scale);
        var b = Vector256.Create(shift);
        long i = 0, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = (x[i] - center) * scale + shift;
        for (; i + 8 <= n; i += 8)
        {
            if (ahead != null) Prefetch(ahead + i * sizeof(double));
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - c, a, b), y + i, stream);
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 4) - c, a, b), y + i + 4, stream);
        }
        for (; i < n; i++) y[i] = (x[i] - center) * scale + shift;
    }

    /// <summary>y = (x − center)·r·γⱼ + βⱼ over the row (γ absent: 1, β absent: 0); <paramref name="stream"/> as in <see cref="Affine{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AffineElementwise<T>(T* x, T* y, long n, double center, double r, T* gamma, T* beta, T* ahead = null, bool stream = false) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) AffineElementwiseF((float*)x, (float*)y, n, (float)center, (float)r, (float*)gamma, (float*)beta, (byte*)ahead, stream);
        else AffineElementwiseD((double*)x, (double*)y, n, center, r, (double*)gamma, (double*)beta, (byte*)ahead, stream);
    }

    /// <summary>One element of <see cref="AffineElementwise{T}"/>, in the row's own type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T AffineElementwiseOne<T>(T* x, long i, T center, T r, T* gamma, T* beta) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T v = (x[i] - center) * r;
        if (gamma != null) v *= gamma[i];
        if (beta != null) v += beta[i];
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineElementwiseF(float* x, float* y, long n, float center, float r, float* gamma, float* beta, byte* ahead, bool stream)
    {
        var c = Vector256.Create(center);
        var rv = Vector256.Create(r);
        long i = 0, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
        for (; i + 8 <= n; i += 8)
        {
            if (ahead != null) Prefetch(ahead + i * sizeof(float));
            var v = (Vector256.Load(x + i) - c) * rv;
            if (gamma != null) v *= Vector256.Load(gamma + i);
            if (beta != null) v += Vector256.Load(beta + i);
            StreamingStores.Put(v, y + i, stream);
        }
        for (; i < n; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineElementwiseD(double* x, double* y, long n, double center, double r, double* gamma, double* beta, byte* ahead, bool stream)
    {
        var c = Vector256.Create(center);
        var rv = Vector256.Create(r);
        long i = 0, head = StreamingStores.Head(y, n, stream);
        for (; i < head; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
        for (; i + 4 <= n; i += 4)
        {
            if (ahead != null) Prefetch(ahead + i * sizeof(double));
            var v = (Vector256.Load(x + i) - c) * rv;
            if (gamma != null) v *= Vector256.Load(gamma + i);
            if (beta != null) v += Vector256.Load(beta + i);
            StreamingStores.Put(v, y + i, stream);
        }
        for (; i < n; i++) y[i] = AffineElementwiseOne(x, i, center, r, gamma, beta);
    }

    /// <summary>
    /// dx = (γ·dy − ḡ)·r + b·(x − center) + c0 over the row, with γ = <paramref name="scale"/>·γⱼ (γ null: 1).
    /// Subtracting ḡ before scaling by r keeps dx exactly 0 where the statistic has one element.
    /// </summary>
    /// <remarks><paramref name="aheadDy"/> and <paramref name="aheadX"/>, when given, are the next rows the caller will read; they are prefetched into L2.
    /// <paramref name="stream"/> as in <see cref="Affine{T}"/>.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradApply<T>(T* dy, T* x, T* dx, long n, double center, double scale, double gbar, double r, double b, double c0, T* gamma = null,
        T* aheadDy = null, T* aheadX = null, bool stream = false) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            GradApplyF((float*)dy, (float*)x, (float*)dx, n, (float)center, (float)scale, (float)gbar, (float)r, (float)b, (float)c0, (float*)gamma, (byte*)aheadDy, (byte*)aheadX, stream);
        else
            GradApplyD((double*)dy, (double*)x, (double*)dx, n, center, scale, gbar, r, b, c0, (double*)gamma, (byte*)aheadDy, (byte*)aheadX, stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float GradApplyOne(float* dy, float* x, long i, float center, float scale, float gbar, float r, float b, float c0, float* gamma)
    {
        float g = dy[i] * scale;
        if (gamma != null) g *= gamma[i];
        return (x[i] - center) * b + ((g - gbar) * r + c0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double GradApplyOne(double* dy, double* x, long i, double center, double scale, double gbar, double r, double b, double c0, double* gamma)
    {
        double g = dy[i] * scale;
        if (gamma != null) g *= gamma[i];
        return (x[i] - center) * b + ((g - gbar) * r + c0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradApplyF(float* dy, float* x, float* dx, long n, float center, float scale, float gbar, float r, float b, float c0, float* gamma,
        byte* aheadDy, byte* aheadX, bool stream)
    {
        var cv = Vector256.Create(center);
        var sv = Vector256.Create(scale);
        var gv = Vector256.Create(gbar);
        var rv = Vector256.Create(r);
        var bv = Vector256.Create(b);
        var c0v = Vector256.Create(c0);
        long i = 0, head = StreamingStores.Head(dx, n, stream);
        for (; i < head; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
        for (; i + 8 <= n; i += 8)
        {
            if (aheadDy != null)
            {
                Prefetch(aheadDy + i * sizeof(float));
                Prefetch(aheadX + i * sizeof(float));
            }
            var g = Vector256.Load(dy + i) * sv;
            if (gamma != null) g *= Vector256.Load(gamma + i);
            var t = Vector256.FusedMultiplyAdd(g - gv, rv, c0v);
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - cv, bv, t), dx + i, stream);
        }
        for (; i < n; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradApplyD(double* dy, double* x, double* dx, long n, double center, double scale, double gbar, double r, double b, double c0, double* gamma,
        byte* aheadDy, byte* aheadX, bool stream)
    {
        var cv = Vector256.Create(center);
        var sv = Vector256.Create(scale);
        var gv = Vector256.Create(gbar);
        var rv = Vector256.Create(r);
        var bv = Vector256.Create(b);
        var c0v = Vector256.Create(c0);
        long i = 0, head = StreamingStores.Head(dx, n, stream);
        for (; i < head; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
        for (; i + 4 <= n; i += 4)
        {
            if (aheadDy != null)
            {
                Prefetch(aheadDy + i * sizeof(double));
                Prefetch(aheadX + i * sizeof(double));
            }
            var g = Vector256.Load(dy + i) * sv;
            if (gamma != null) g *= Vector256.Load(gamma + i);
            var t = Vector256.FusedMultiplyAdd(g - gv, rv, c0v);
            StreamingStores.Put(Vector256.FusedMultiplyAdd(Vector256.Load(x + i) - cv, bv, t), dx + i, stream);
        }
        for (; i < n; i++) dx[i] = GradApplyOne(dy, x, i, center, scale, gbar, r, b, c0, gamma);
    }

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

    /// <summary>One value as float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref v) : Unsafe.As<T, double>(ref v);
}
