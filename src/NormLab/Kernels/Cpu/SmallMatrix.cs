using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormLab.Kernels.Cpu;

/// <summary>
/// Products of small square float64 matrices (d × d, row-major), for the whitening matrix functions that
/// run as loops (<see cref="MatrixTape"/>): rows of the right factor and of the result four at a time.
/// </summary>
internal static unsafe class SmallMatrix
{
    /// <summary>c = a·b, or c += a·b with <paramref name="accumulate"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(double* a, double* b, double* c, long d, bool accumulate = false)
    {
        if (!accumulate) new Span<double>(c, (int)(d * d)).Clear();
        for (long i = 0; i < d; i++)
        {
            double* ci = c + i * d;
            for (long k = 0; k < d; k++)
            {
                double aik = a[i * d + k];
                double* bk = b + k * d;
                var av = Vector256.Create(aik);
                long j = 0;
                for (; j + 4 <= d; j += 4) Vector256.Store(Vector256.FusedMultiplyAdd(av, Vector256.Load(bk + j), Vector256.Load(ci + j)), ci + j);
                for (; j < d; j++) ci[j] += aik * bk[j];
            }
        }
    }

    /// <summary>c (+)= aᵀ·b, through <paramref name="scratch"/> (d × d).</summary>
    public static void MultiplyTransposedA(double* a, double* b, double* c, long d, double* scratch, bool accumulate = false)
    {
        Transpose(a, scratch, d);
        Multiply(scratch, b, c, d, accumulate);
    }

    /// <summary>c (+)= a·bᵀ, through <paramref name="scratch"/> (d × d).</summary>
    public static void MultiplyTransposedB(double* a, double* b, double* c, long d, double* scratch, bool accumulate = false)
    {
        Transpose(b, scratch, d);
        Multiply(a, scratch, c, d, accumulate);
    }

    /// <summary>to = fromᵀ (d × d; the two must not overlap).</summary>
    public static void Transpose(double* from, double* to, long d)
    {
        for (long i = 0; i < d; i++)
            for (long j = 0; j < d; j++)
                to[j * d + i] = from[i * d + j];
    }
}
