using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// A small matrix applied to the samples of one block: out[c, s] = bias_c + Σ_k M[c, k]·in_k[s] for
/// c &lt; d, where the K input rows come from one or two sources of d rows each (row stride
/// <c>stride</c>). The block is processed in tiles of samples copied to a scratch buffer first, so the
/// output may overwrite either source in place. Whitening's forward (W·xc + β) and backward
/// (Wᵀ·dy + M·xc) are both this operation.
/// </summary>
internal static unsafe class TileGemm
{
    /// <summary>Samples per tile.</summary>
    public const int Tile = 64;

    /// <summary>
    /// Applies <paramref name="m"/> (d × K row-major, K = d or 2d) to the rows of <paramref name="first"/>
    /// (and <paramref name="second"/> when K = 2d) over <paramref name="length"/> samples, plus
    /// <paramref name="bias"/> (d values, or null), writing <paramref name="output"/>.
    /// <paramref name="scratch"/> holds K·<see cref="Tile"/> values.
    /// </summary>
    public static void Apply<T>(T* output, T* first, T* second, long stride, long length, long d, T* m, T* bias, T* scratch) where T : unmanaged
    {
        long k = second == null ? d : 2 * d;
        for (long s0 = 0; s0 < length; s0 += Tile)
        {
            long n = Math.Min(Tile, length - s0);
            for (long r = 0; r < k; r++)
            {
                T* src = (r < d ? first + r * stride : second + (r - d) * stride) + s0;
                Buffer.MemoryCopy(src, scratch + r * Tile, Tile * sizeof(T), n * sizeof(T));
            }
            if (typeof(T) == typeof(float)) TileF(output + s0, stride, n, d, k, (float*)m, (float*)bias, (float*)scratch);
            else TileD((double*)(output + s0), stride, n, d, k, (double*)m, (double*)bias, (double*)scratch);
        }
    }

    private static void TileF(void* outputPtr, long stride, long n, long d, long k, float* m, float* bias, float* scratch)
    {
        float* output = (float*)outputPtr;
        for (long c = 0; c < d; c++)
        {
            float* row = m + c * k;
            var b = Vector256.Create(bias == null ? 0f : bias[c]);
            float* o = output + c * stride;
            long i = 0;
            for (; i + 32 <= n; i += 32)
            {
                Vector256<float> a0 = b, a1 = b, a2 = b, a3 = b;
                for (long r = 0; r < k; r++)
                {
                    var w = Vector256.Create(row[r]);
                    float* t = scratch + r * Tile + i;
                    a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t), a0);
                    a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 24), a3);
                }
                Vector256.Store(a0, o + i);
                Vector256.Store(a1, o + i + 8);
                Vector256.Store(a2, o + i + 16);
                Vector256.Store(a3, o + i + 24);
            }
            for (; i + 8 <= n; i += 8)
            {
                var a0 = b;
                for (long r = 0; r < k; r++)
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(row[r]), Vector256.Load(scratch + r * Tile + i), a0);
                Vector256.Store(a0, o + i);
            }
            for (; i < n; i++)
            {
                float acc = bias == null ? 0f : bias[c];
                for (long r = 0; r < k; r++) acc += row[r] * scratch[r * Tile + i];
                o[i] = acc;
            }
        }
    }

    private static void TileD(double* output, long stride, long n, long d, long k, double* m, double* bias, double* scratch)
    {
        for (long c = 0; c < d; c++)
        {
            double* row = m + c * k;
            var b = Vector256.Create(bias == null ? 0.0 : bias[c]);
            double* o = output + c * stride;
            long i = 0;
            for (; i + 16 <= n; i += 16)
            {
                Vector256<double> a0 = b, a1 = b, a2 = b, a3 = b;
                for (long r = 0; r < k; r++)
                {
                    var w = Vector256.Create(row[r]);
                    double* t = scratch + r * Tile + i;
                    a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t), a0);
                    a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 4), a1);
                    a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 8), a2);
                    a3 = Vector256.FusedMultiplyAdd(w, Vector256.Load(t + 12), a3);
                }
                Vector256.Store(a0, o + i);
                Vector256.Store(a1, o + i + 4);
                Vector256.Store(a2, o + i + 8);
                Vector256.Store(a3, o + i + 12);
            }
            for (; i + 4 <= n; i += 4)
            {
                var a0 = b;
                for (long r = 0; r < k; r++)
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(row[r]), Vector256.Load(scratch + r * Tile + i), a0);
                Vector256.Store(a0, o + i);
            }
            for (; i < n; i++)
            {
                double acc = bias == null ? 0.0 : bias[c];
                for (long r = 0; r < k; r++) acc += row[r] * scratch[r * Tile + i];
                o[i] = acc;
            }
        }
    }
}
