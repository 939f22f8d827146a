using NormLab.Kernels.Cpu;

namespace NormLab.Tests.Kernels;

/// <summary>
/// Whitening's block products (<see cref="BlockGram"/>) against a plain float64 loop: a·aᵀ (mirrored) and
/// a·bᵀ, block sizes below, at and above the 4 × 4 register block and not a multiple of it, sample counts
/// not a multiple of the vector width, float and double, added onto existing values.
/// </summary>
public unsafe class BlockGramTests
{
    public static TheoryData<int, int> Sizes => new() { { 1, 5 }, { 3, 37 }, { 4, 16 }, { 6, 37 }, { 16, 200 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Products_match_a_plain_loop(int d, int n)
    {
        if (!BlockGram.Supported) return; // the kernels use LibTorch's bmm there
        Check<float>(d, n, symmetric: true, tolerance: 1e-5);
        Check<float>(d, n, symmetric: false, tolerance: 1e-5);
        Check<double>(d, n, symmetric: true, tolerance: 1e-12);
        Check<double>(d, n, symmetric: false, tolerance: 1e-12);
    }

    private static void Check<T>(int d, int n, bool symmetric, double tolerance) where T : unmanaged
    {
        const int Stride = 211;
        var random = new Random(d * 1000 + n);
        T[] Values() => Enumerable.Range(0, d * Stride).Select(_ => From<T>(random.NextDouble() * 2 - 1)).ToArray();
        var a = Values();
        var b = symmetric ? a : Values();
        var g = Enumerable.Range(0, d * d).Select(i => 0.5 * i).ToArray();
        var expected = (double[])g.Clone();
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int s = 0; s < n; s++)
                    expected[i * d + j] += To(a[i * Stride + s]) * To(b[j * Stride + s]);
        if (symmetric)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < i; j++)
                    expected[i * d + j] = expected[j * d + i];
        fixed (T* pa = a, pb = b)
        fixed (double* pg = g)
            BlockGram.Accumulate(pa, symmetric ? pa : pb, Stride, n, d, pg);
        for (int i = 0; i < g.Length; i++)
            Assert.True(Math.Abs(g[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{typeof(T).Name}, d {d}, n {n}, symmetric {symmetric}: g[{i}] = {g[i]}, expected {expected[i]}");
    }

    private static T From<T>(double v) where T : unmanaged => typeof(T) == typeof(float) ? (T)(object)(float)v : (T)(object)v;

    private static double To<T>(T v) where T : unmanaged => Convert.ToDouble(v);
}
