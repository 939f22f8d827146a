using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Bench;

/// <summary>One row of the benchmark: medians in milliseconds for one spec, shape and pass.</summary>
internal sealed record BenchRow(string Spec, long[] Shape, BenchPass Pass, double NormLabMs, double? NativeMs, double CompositeMs, double FloorMs);

/// <summary>
/// Times forward, backward and forward+backward of each target's implementations, interleaved within
/// each repetition so that load from other processes hits them alike, and measures the memory-copy
/// bandwidth that defines the floor in the same run.
/// </summary>
internal static class BenchRunner
{
    /// <summary>Elements of each buffer of the copy measurement: 32 Mi floats (128 MiB), far beyond the caches.</summary>
    private const long CopyElements = 32L << 20;

    /// <summary>
    /// Memory-copy bandwidth in GB/s (10⁹ bytes read plus written per second): a 128 MiB float32
    /// tensor copied into a preallocated one, the median over <paramref name="repeat"/> runs, taking
    /// the faster of LibTorch's <c>copy_</c> and a plain SIMD copy loop on the kernel threads (LibTorch's
    /// copy is sometimes the slower one on a loaded machine, which would make the floor too easy).
    /// </summary>
    public static double CopyBandwidth(int warmup, int repeat)
    {
        using var scope = NewDisposeScope();
        var src = ones(CopyElements, ScalarType.Float32);
        var dst = zeros(CopyElements, ScalarType.Float32);
        double bytes = 2.0 * CopyElements * sizeof(float);
        double libtorch = MedianTime(warmup, repeat, () => dst.copy_(src));
        double simd = MedianTime(warmup, repeat, () => NormLab.Kernels.Cpu.MemoryCopy.Copy(src, dst));
        return bytes / (Math.Min(libtorch, simd) * 1e-3) / 1e9;
    }

    private static double MedianTime(int warmup, int repeat, Action run)
    {
        var times = new List<double>();
        for (int i = 0; i < warmup + repeat; i++)
        {
            var sw = Stopwatch.StartNew();
            run();
            double ms = sw.Elapsed.TotalMilliseconds;
            if (i >= warmup) times.Add(ms);
        }
        return Median(times);
    }

    /// <summary>
    /// The three passes of one target, each with the median of <paramref name="repeat"/> timed runs
    /// after warm-up: at least <paramref name="warmup"/> untimed runs of every implementation, and more
    /// (up to <see cref="MaxWarmup"/> runs or <see cref="WarmupBudget"/>) until the last three runs of
    /// each agree within 30%. On these VMs the first runs fault in fresh pages for every new buffer
    /// size, which takes several runs.
    /// </summary>
    public static IEnumerable<BenchRow> Run(BenchTarget target, int warmup, int repeat, double copyGbps, Generator generator)
    {
        using var dy = randn(target.Input.shape, target.Input.dtype, generator: generator);
        var implementations = new List<Func<Tensor, Tensor>> { target.NormLab, target.Composite };
        if (target.Native is { } native) implementations.Add(native);
        foreach (var pass in new[] { BenchPass.Forward, BenchPass.Backward, BenchPass.ForwardBackward })
        {
            var warm = implementations.Select(_ => new List<double>()).ToArray();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < MaxWarmup; i++)
            {
                for (int k = 0; k < implementations.Count; k++) warm[k].Add(Time(implementations[k], target, pass, dy));
                if (i + 1 >= warmup && (warm.All(Settled) || clock.Elapsed > WarmupBudget)) break;
            }
            var times = implementations.Select(_ => new List<double>()).ToArray();
            for (int i = 0; i < repeat; i++)
                for (int j = 0; j < implementations.Count; j++)
                {
                    int k = (i + j) % implementations.Count;
                    times[k].Add(Time(implementations[k], target, pass, dy));
                }
            yield return new BenchRow(target.Spec, target.Shape, pass, Median(times[0]),
                target.Native is null ? null : Median(times[2]), Median(times[1]),
                target.FloorBytes(pass) / (copyGbps * 1e9) * 1e3);
        }
    }

    /// <summary>The most warm-up runs per implementation and pass.</summary>
    private const int MaxWarmup = 15;

    /// <summary>The longest warm-up per pass before timing starts anyway.</summary>
    private static readonly TimeSpan WarmupBudget = TimeSpan.FromSeconds(5);

    private static bool Settled(List<double> times) =>
        times.Count >= 3 && times.TakeLast(3).Max() <= 1.3 * times.TakeLast(3).Min();

    /// <summary>Times one run of a pass; the graph and every tensor it made are released before returning.</summary>
    private static double Time(Func<Tensor, Tensor> f, BenchTarget target, BenchPass pass, Tensor dy)
    {
        using var scope = NewDisposeScope();
        var wrt = new[] { target.Input }.Concat(target.Parameters).ToArray();
        var sw = new Stopwatch();
        Tensor y;
        if (pass == BenchPass.Backward)
        {
            y = f(target.Input);
            sw.Start();
        }
        else
        {
            sw.Start();
            y = f(target.Input);
        }
        if (pass == BenchPass.Forward)
        {
            sw.Stop();
            return sw.Elapsed.TotalMilliseconds;
        }
        autograd.grad(new[] { y }, wrt, new[] { dy }, allow_unused: true);
        sw.Stop();
        return sw.Elapsed.TotalMilliseconds;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
