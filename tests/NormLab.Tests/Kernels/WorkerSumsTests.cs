using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// <see cref="WorkerSums"/>: per-worker float64 accumulators summed into float32 or float64, on the calling
/// thread and split across two threads, against a plain sum.
/// </summary>
public unsafe class WorkerSumsTests
{
    [Theory]
    [InlineData(13, 1)]          // shorter than one vector, one thread
    [InlineData(200_003, 1)]     // above the parallel size, not a multiple of the vector width, one thread
    [InlineData(200_003, 2)]     // the same split across two threads
    public void Sums_the_used_accumulators_and_rounds_once(long length, int threads)
    {
        int saved = get_num_threads();
        set_num_threads(threads);
        try
        {
            using var sums = new WorkerSums(length, 4);
            var expected = new double[length];
            foreach (int worker in new[] { 0, 2, 3 }) // slot 1 is never used
            {
                double* p = sums.For(worker);
                for (long i = 0; i < length; i++)
                {
                    p[i] = Math.Sin(i * 0.37 + worker) * (1 + worker) + 1e-9 * i;
                    expected[i] += p[i];
                }
            }
            var doubles = new double[length];
            var floats = new float[length];
            fixed (double* d = doubles) sums.SumInto(d);
            fixed (float* f = floats) sums.SumInto(f);
            for (long i = 0; i < length; i++)
            {
                Assert.Equal(expected[i], doubles[i], 1e-12);
                Assert.Equal((float)expected[i], floats[i]);
            }
        }
        finally
        {
            set_num_threads(saved);
        }
    }

    [Fact]
    public void With_no_accumulator_used_the_sum_is_zero()
    {
        using var sums = new WorkerSums(5, 2);
        var floats = new float[] { 1, 2, 3, 4, 5 };
        fixed (float* f = floats) sums.SumInto(f);
        Assert.All(floats, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_slot_is_zeroed_when_first_used()
    {
        using var sums = new WorkerSums(37, 1);
        double* p = sums.For(0);
        for (int i = 0; i < 37; i++) Assert.Equal(0.0, p[i]);
        Assert.True(p == sums.For(0), "a second request returns the same accumulator");
    }
}
