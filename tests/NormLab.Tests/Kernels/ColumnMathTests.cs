using System.Runtime.Intrinsics;
using NormLab.Kernels.Cpu;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The column loops at both vector widths (<see cref="Lanes4"/>, and <see cref="Lanes8"/> where the CPU has
/// AVX-512) against plain float64 loops: row counts not a multiple of four (the single-row remainder),
/// lengths not a multiple of the lanes (the scalar tail), more than eight rows (the prefetched block
/// ahead), float and double inputs.
/// </summary>
public unsafe class ColumnMathTests
{
    private const long Stride = 41;

    public static TheoryData<int, int> Sizes => new() { { 1, 1 }, { 3, 7 }, { 4, 8 }, { 9, 13 }, { 13, 37 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Moments_match_a_plain_loop(int rows, int n)
    {
        Check<float, Lanes4>(rows, n, MomentsCase<float, Lanes4>);
        Check<double, Lanes4>(rows, n, MomentsCase<double, Lanes4>);
        if (!Vector512.IsHardwareAccelerated) return;
        Check<float, Lanes8>(rows, n, MomentsCase<float, Lanes8>);
        Check<double, Lanes8>(rows, n, MomentsCase<double, Lanes8>);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Gradient_sums_match_a_plain_loop(int rows, int n)
    {
        Check<float, Lanes4>(rows, n, GradSumsCase<float, Lanes4>);
        Check<double, Lanes4>(rows, n, GradSumsCase<double, Lanes4>);
        if (!Vector512.IsHardwareAccelerated) return;
        Check<float, Lanes8>(rows, n, GradSumsCase<float, Lanes8>);
        Check<double, Lanes8>(rows, n, GradSumsCase<double, Lanes8>);
    }

    private static void Check<T, V>(int rows, int n, Func<T[], T[], int, int, (double[] Got, double[] Expected)> run)
        where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var random = new Random(rows * 100 + n);
        T[] Values() => Enumerable.Range(0, (int)(rows * Stride)).Select(_ => From<T>(3.0 + random.NextDouble() * 2 - 1)).ToArray();
        var (got, expected) = run(Values(), Values(), rows, n);
        Assert.Equal(expected.Length, got.Length);
        const double tolerance = 1e-12; // float inputs widen exactly: only the order of float64 sums differs
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(got[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{typeof(T).Name}/{typeof(V).Name}, {rows} rows of {n}: value {i} is {got[i]}, expected {expected[i]}");
    }

    /// <summary>s1, s2 (each n values, starting from 0.5) with the first row as the shift.</summary>
    private static (double[], double[]) MomentsCase<T, V>(T[] x, T[] _, int rows, int n) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var s1 = Enumerable.Repeat(0.5, n).ToArray();
        var s2 = Enumerable.Repeat(0.5, n).ToArray();
        var e1 = (double[])s1.Clone();
        var e2 = (double[])s2.Clone();
        fixed (T* px = x)
        fixed (double* p1 = s1, p2 = s2)
            ColumnMath.Moments<T, V>(px, Stride, rows, px, p1, p2, n);
        for (int c = 0; c < rows; c++)
            for (int j = 0; j < n; j++)
            {
                double d = To(x[c * Stride + j]) - To(x[j]);
                e1[j] += d;
                e2[j] += d * d;
            }
        return (s1.Concat(s2).ToArray(), e1.Concat(e2).ToArray());
    }

    /// <summary>g1, g2 (n values each, from 0.25) and the per-row Σ dy, Σ dy·(x − μ)·r (from 1).</summary>
    private static (double[], double[]) GradSumsCase<T, V>(T[] dy, T[] x, int rows, int n) where T : unmanaged where V : struct, IDoubleLanes<V>
    {
        var mu = Enumerable.Range(0, n).Select(j => 3.0 + 0.01 * j).ToArray();
        var r = Enumerable.Range(0, n).Select(j => 0.5 + 0.02 * j).ToArray();
        var gamma = Enumerable.Range(0, rows).Select(c => From<T>(0.75 + 0.1 * c)).ToArray();
        var g1 = Enumerable.Repeat(0.25, n).ToArray();
        var g2 = Enumerable.Repeat(0.25, n).ToArray();
        var sdy = Enumerable.Repeat(1.0, rows).ToArray();
        var sdyxhat = Enumerable.Repeat(1.0, rows).ToArray();
        var (e1, e2, edy, exhat) = ((double[])g1.Clone(), (double[])g2.Clone(), (double[])sdy.Clone(), (double[])sdyxhat.Clone());
        fixed (T* pdy = dy, px = x, pg = gamma)
        fixed (double* pm = mu, pr = r, p1 = g1, p2 = g2, ps = sdy, ph = sdyxhat)
            ColumnMath.GradSums<T, V>(pdy, px, Stride, rows, n, pm, pr, pg, p1, p2, ps, ph);
        for (int c = 0; c < rows; c++)
            for (int j = 0; j < n; j++)
            {
                double d = To(dy[c * Stride + j]), e = d * (To(x[c * Stride + j]) - mu[j]);
                e1[j] += To(gamma[c]) * d;
                e2[j] += To(gamma[c]) * e;
                edy[c] += d;
                exhat[c] += e * r[j];
            }
        return (g1.Concat(g2).Concat(sdy).Concat(sdyxhat).ToArray(), e1.Concat(e2).Concat(edy).Concat(exhat).ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(11)]
    public void Mean_and_spread_match_the_scalar_formula(int count)
    {
        MeanAndSpreadCase<float>(count);
        MeanAndSpreadCase<double>(count);
    }

    private static void MeanAndSpreadCase<T>(int count) where T : unmanaged
    {
        const long n = 7;
        var random = new Random(count);
        var s1 = Enumerable.Range(0, count).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        // The last position's s2 is below s1²/n, so its spread clamps at 0.
        var s2 = s1.Select((v, j) => j == count - 1 ? v * v / n / 2 : v * v / n + random.NextDouble()).ToArray();
        var k = Enumerable.Range(0, count).Select(j => From<T>(10.0 + j)).ToArray();
        foreach (bool shifted in new[] { true, false })
        {
            var mu = new double[count];
            var spread = new double[count];
            fixed (double* p1 = s1, p2 = s2, pm = mu, ps = spread)
            fixed (T* pk = k)
                ColumnMath.MeanAndSpread(p1, p2, shifted ? pk : null, n, pm, ps, count);
            for (int j = 0; j < count; j++)
            {
                double m1 = s1[j] / n;
                Assert.Equal(shifted ? To(k[j]) + m1 : 0.0, mu[j]);
                Assert.Equal(shifted ? Math.Max(s2[j] / n - m1 * m1, 0.0) : s2[j] / n, spread[j]);
            }
            if (shifted) Assert.Equal(0.0, spread[count - 1]);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Mean_divides_by_n_or_clears(bool centers)
    {
        var g = Enumerable.Range(0, 11).Select(j => 1.5 * j - 4).ToArray();
        var expected = g.Select(v => centers ? v / 7 : 0.0).ToArray();
        fixed (double* p = g) ColumnMath.Mean(p, 7, centers, g.Length);
        Assert.Equal(expected, g);
    }

    private static T From<T>(double v) where T : unmanaged => typeof(T) == typeof(float) ? (T)(object)(float)v : (T)(object)v;

    private static double To<T>(T v) where T : unmanaged => Convert.ToDouble(v);
}
