using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// A small matrix applied to the samples of one block: out[c, s] = bias_c + Σ_k M[c, k]·in_k[s] for
/// c &lt; d, where the K input rows come from one or two sources of d rows each (row stride
/// <c>stride</c>). The block is processed in tiles of samples copied to a scratch buffer first, so the
/// output may overwrite either source in place. Whitening's forward (W·xc + β) and backward
/// (Wᵀ·dy + M·xc) are both this operation.
/// </summary>
/// <remarks>
/// The float32 path prefetches each source row <see cref="PrefetchTiles"/> tiles ahead: a block's 16 or 32 rows,
/// 4·S bytes apart, are more streams than the hardware prefetcher follows. Done inside the tile copy, that took
/// ZCA fwd+bwd on [32,64,56,56], group 16, to 0.934–0.948× the time without it at 4 tiles ahead (0.936–0.991× at
/// 2, 0.946–0.990× at 8; one process with alternating calls, medians of 110). Spread over the FMA loops instead
/// (<see cref="SpreadPrefetch"/>), memory also works while the FMAs run: a further 0.939× for ZCA and 0.925×
/// for IterNorm (ZCA 0.949× at 2 tiles ahead).
/// </remarks>
internal static unsafe class TileGemm
{
    /// <summary>Samples per tile (a multiple of 32).</summary>
    public const int Tile = 256;

    /// <summary>How many tiles ahead the float32 FMA loops prefetch the source rows.</summary>
    private const int PrefetchTiles = 4;

    /// <summary>
    /// Applies <paramref name="m"/> (d × K row-major, K = d or 2d) to the rows of <paramref name="first"/>
    /// (and <paramref name="second"/> when K = 2d) over <paramref name="length"/> samples, plus
    /// <paramref name="bias"/> (d values, or null), writing <paramref name="output"/>.
    /// <paramref name="scratch"/> holds K·<see cref="Tile"/> values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<T>(T* output, T* first, T* second, long stride, long length, long d, T* m, T* bias, T* scratch) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            ApplyF((float*)output, (float*)first, (float*)second, stride, length, d, (float*)m, (float*)bias, (float*)scratch);
        else
            ApplyD((double*)output, (double*)first, (double*)second, stride, length, d, (double*)m, (double*)bias, (double*)scratch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyF(float* output, float* first, float* second, long stride, long length, long d, float* m, float* bias, float* scratch)
    {
        long k = second == null ? d : 2 * d;
        for (long s0 = 0; s0 < length; s0 += Tile)
        {
            long n = Math.Min(Tile, length - s0);
            long vectors = n / 8 * 8;
            for (long r = 0; r < k; r++)
            {
                float* src = (r < d ? first + r * stride : second + (r - d) * stride) + s0;
                float* dst = scratch + r * Tile;
                long i = 0;
                for (; i < vectors; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
                for (; i < n; i++) dst[i] = src[i];
            }
            // The rows of the tile PrefetchTiles ahead, a few lines per step of the 512-bit loops (the rest after them).
            long ahead = s0 + PrefetchTiles * Tile;
            var pf = ahead < length
                ? SpreadPrefetch.Over(first + ahead, second == null ? null : second + ahead, stride * sizeof(float), d,
                    Math.Min(Tile, length - ahead) * sizeof(float), Vector512.IsHardwareAccelerated ? d / 4 * (n / 32) : 0)
                : default;
            long c4 = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; c4 + 4 <= d; c4 += 4)
                    RowQuad512(output + c4 * stride + s0, stride, n, k, m + c4 * k, bias == null ? null : bias + c4, scratch, ref pf);
            for (long c = c4; c + 1 < d; c += 2)
                RowPairF(output + c * stride + s0, output + (c + 1) * stride + s0, n, k, m + c * k, m + (c + 1) * k,
                    bias == null ? 0f : bias[c], bias == null ? 0f : bias[c + 1], scratch);
            if ((d - c4) % 2 == 1)
                RowF(output + (d - 1) * stride + s0, n, k, m + (d - 1) * k, bias == null ? 0f : bias[d - 1], scratch);
            pf.Finish();
        }
    }

    /// <summary>Four output rows at once with 512-bit vectors (16 floats), sharing the loads of the scratch rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowQuad512(float* o, long stride, long n, long k, float* m, float* bias, float* scratch, ref SpreadPrefetch pf)
    {
        long i = 0;
        for (; i + 32 <= n; i += 32)
        {
            pf.Step();
            var b0 = Vector512.Create(bias == null ? 0f : bias[0]);
            var b1 = Vector512.Create(bias == null ? 0f : bias[1]);
            var b2 = Vector512.Create(bias == null ? 0f : bias[2]);
            var b3 = Vector512.Create(bias == null ? 0f : bias[3]);
            Vector512<float> a0 = b0, a1 = b0, c0 = b1, c1 = b1, e0 = b2, e1 = b2, f0 = b3, f1 = b3;
            for (long r = 0; r < k; r++)
            {
                float* t = scratch + r * Tile + i;
                var x0 = Vector512.Load(t);
                var x1 = Vector512.Load(t + 16);
                var w0 = Vector512.Create(m[r]);
                var w1 = Vector512.Create(m[k + r]);
                var w2 = Vector512.Create(m[2 * k + r]);
                var w3 = Vector512.Create(m[3 * k + r]);
                a0 = Vector512.FusedMultiplyAdd(w0, x0, a0);
                a1 = Vector512.FusedMultiplyAdd(w0, x1, a1);
                c0 = Vector512.FusedMultiplyAdd(w1, x0, c0);
                c1 = Vector512.FusedMultiplyAdd(w1, x1, c1);
                e0 = Vector512.FusedMultiplyAdd(w2, x0, e0);
                e1 = Vector512.FusedMultiplyAdd(w2, x1, e1);
                f0 = Vector512.FusedMultiplyAdd(w3, x0, f0);
                f1 = Vector512.FusedMultiplyAdd(w3, x1, f1);
            }
            Vector512.Store(a0, o + i); Vector512.Store(a1, o + i + 16);
            Vector512.Store(c0, o + stride + i); Vector512.Store(c1, o + stride + i + 16);
            Vector512.Store(e0, o + 2 * stride + i); Vector512.Store(e1, o + 2 * stride + i + 16);
            Vector512.Store(f0, o + 3 * stride + i); Vector512.Store(f1, o + 3 * stride + i + 16);
        }
        if (i < n)
            for (long c = 0; c < 4; c++)
                RowTailF(o + c * stride, i, n, k, m + c * k, bias == null ? 0f : bias[c], scratch);
    }

    /// <summary>Two output rows at once, sharing the loads of the scratch rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowPairF(float* o0, float* o1, long n, long k, float* m0, float* m1, float b0, float b1, float* scratch)
    {
        long i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var bv0 = Vector256.Create(b0);
            var bv1 = Vector256.Create(b1);
            Vector256<float> a0 = bv0, a1 = bv0, a2 = bv0, a3 = bv0, c0 = bv1, c1 = bv1, c2 = bv1, c3 = bv1;
            for (long r = 0; r < k; r++)
            {
                float* t = scratch + r * Tile + i;
                var x0 = Vector256.Load(t);
                var x1 = Vector256.Load(t + 8);
                var x2 = Vector256.Load(t + 16);
                var x3 = Vector256.Load(t + 24);
                var w0 = Vector256.Create(m0[r]);
                var w1 = Vector256.Create(m1[r]);
                a0 = Vector256.FusedMultiplyAdd(w0, x0, a0);
                a1 = Vector256.FusedMultiplyAdd(w0, x1, a1);
                a2 = Vector256.FusedMultiplyAdd(w0, x2, a2);
                a3 = Vector256.FusedMultiplyAdd(w0, x3, a3);
                c0 = Vector256.FusedMultiplyAdd(w1, x0, c0);
                c1 = Vector256.FusedMultiplyAdd(w1, x1, c1);
                c2 = Vector256.FusedMultiplyAdd(w1, x2, c2);
                c3 = Vector256.FusedMultiplyAdd(w1, x3, c3);
            }
            Vector256.Store(a0, o0 + i); Vector256.Store(a1, o0 + i + 8); Vector256.Store(a2, o0 + i + 16); Vector256.Store(a3, o0 + i + 24);
            Vector256.Store(c0, o1 + i); Vector256.Store(c1, o1 + i + 8); Vector256.Store(c2, o1 + i + 16); Vector256.Store(c3, o1 + i + 24);
        }
        if (i < n)
        {
            RowTailF(o0, i, n, k, m0, b0, scratch);
            RowTailF(o1, i, n, k, m1, b1, scratch);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowF(float* o, long n, long k, float* m, float b, float* scratch)
    {
        long i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var bv = Vector256.Create(b);
            Vector256<float> a0 = bv, a1 = bv, a2 = bv, a3 = bv;
            for (long r = 0; r < k; r++)
            {
                float* t = scratch + r * Tile + i;
                var w = Vector256.Create(m[r]);
                a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t), a0);
                a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 24), a3);
            }
            Vector256.Store(a0, o + i); Vector256.Store(a1, o + i + 8); Vector256.Store(a2, o + i + 16); Vector256.Store(a3, o + i + 24);
        }
        if (i < n) RowTailF(o, i, n, k, m, b, scratch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTailF(float* o, long from, long n, long k, float* m, float b, float* scratch)
    {
        long i = from;
        for (; i + 8 <= n; i += 8)
        {
            var a = Vector256.Create(b);
            for (long r = 0; r < k; r++) a = Vector256.FusedMultiplyAdd(Vector256.Create(m[r]), Vector256.Load(scratch + r * Tile + i), a);
            Vector256.Store(a, o + i);
        }
        for (; i < n; i++)
        {
            float acc = b;
            for (long r = 0; r < k; r++) acc += m[r] * scratch[r * Tile + i];
            o[i] = acc;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyD(double* output, double* first, double* second, long stride, long length, long d, double* m, double* bias, double* scratch)
    {
        long k = second == null ? d : 2 * d;
        for (long s0 = 0; s0 < length; s0 += Tile)
        {
            long n = Math.Min(Tile, length - s0);
            for (long r = 0; r < k; r++)
            {
                double* src = (r < d ? first + r * stride : second + (r - d) * stride) + s0;
                double* dst = scratch + r * Tile;
                long i = 0;
                for (; i + 4 <= n; i += 4) Vector256.Store(Vector256.Load(src + i), dst + i);
                for (; i < n; i++) dst[i] = src[i];
            }
            for (long c = 0; c < d; c++)
            {
                double* row = m + c * k;
                double b = bias == null ? 0.0 : bias[c];
                double* o = output + c * stride + s0;
                long i = 0;
                for (; i + 16 <= n; i += 16)
                {
                    var bv = Vector256.Create(b);
                    Vector256<double> a0 = bv, a1 = bv, a2 = bv, a3 = bv;
                    for (long r = 0; r < k; r++)
                    {
                        var w = Vector256.Create(row[r]);
                        double* t = scratch + r * Tile + i;
                        a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t), a0);
                        a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 4), a1);
                        a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 8), a2);
                        a3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 12), a3);
                    }
                    Vector256.Store(a0, o + i); Vector256.Store(a1, o + i + 4); Vector256.Store(a2, o + i + 8); Vector256.Store(a3, o + i + 12);
                }
                for (; i < n; i++)
                {
                    double acc = b;
                    for (long r = 0; r < k; r++) acc += row[r] * scratch[r * Tile + i];
                    o[i] = acc;
                }
            }
        }
    }
}
