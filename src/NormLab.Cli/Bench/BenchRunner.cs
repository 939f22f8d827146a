using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Bench;

/// <summary>
/// One row of the benchmark: medians in milliseconds for one spec, shape and pass, the copy bandwidth timed alongside
/// (which sets the floor), and the reference normalizer's time on the same shape in the same repetitions (or null).
/// </summary>
internal sealed record BenchRow(string Spec, long[] Shape, BenchPass Pass, double NormLabMs, double? NativeMs, double CompositeMs, double FloorMs, double CopyGbps,
    double? ReferenceMs = null);

/// <summary>
/// Times forward, backward and forward+backward of each target's implementations, interleaved within
/// each repetition together with a memory copy (which defines the floor), so that load from other
/// processes hits them alike.
/// </summary>
internal static class BenchRunner
{
    /// <summary>
    /// Memory-copy bandwidth in GB/s, the median over <paramref name="repeat"/> runs of <paramref name="probe"/>
    /// after <paramref name="warmup"/> (the figure printed at the start of a run).
    /// </summary>
    public static double CopyBandwidth(CopyProbe probe, int warmup, int repeat)
    {
        for (int i = 0; i < warmup; i++) probe.Time();
        return probe.Gbps(Median(Enumerable.Range(0, repeat).Select(_ => probe.Time()).ToList()));
    }

    /// <summary>
    /// The three passes of one target, each with the median of <paramref name="repeat"/> timed runs
    /// after warm-up: at least <paramref name="warmup"/> untimed runs of every implementation, and more
    /// (up to <see cref="MaxWarmup"/> runs or <see cref="WarmupBudget"/>) until the last three runs of
    /// each agree within 30%. On these VMs the first runs fault in fresh pages for every new buffer
    /// size, which takes several runs. Each repetition runs the implementations and the copy
    /// <paramref name="probe"/> in turn, starting with a different one each time; the row's floor comes
    /// from that probe's median, so the floor and the times see the same load on the machine. With a
    /// <paramref name="reference"/> (another normalizer's target on the same shape), its NormLab implementation
    /// is one more item of every repetition, so a ratio between two normalizers sees the same load too.
    /// </summary>
    public static IEnumerable<BenchRow> Run(BenchTarget target, int warmup, int repeat, CopyProbe probe, Generator generator, BenchTarget? reference = null)
    {
        using var dy = randn(target.Input.shape, target.Input.dtype, generator: generator);
        const int normLabItem = 0, compositeItem = 1;
        var implementations = new List<(Func<Tensor, Tensor> F, BenchTarget Of)> { (target.NormLab, target), (target.Composite, target) };
        int? nativeItem = null, referenceItem = null;
        if (target.Native is { } native)
        {
            nativeItem = implementations.Count;
            implementations.Add((native, target));
        }
        if (reference is not null)
        {
            referenceItem = implementations.Count;
            implementations.Add((reference.NormLab, reference));
        }
        foreach (var pass in new[] { BenchPass.Forward, BenchPass.Backward, BenchPass.ForwardBackward })
        {
            // Item k < implementations.Count times implementation k; the last item is the copy probe.
            int items = implementations.Count + 1;
            double TimeItem(int k) => k < implementations.Count ? Time(implementations[k].F, implementations[k].Of, pass, dy) : probe.Time();
            var warm = Enumerable.Range(0, items).Select(_ => new List<double>()).ToArray();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < MaxWarmup; i++)
            {
                for (int k = 0; k < items; k++) warm[k].Add(TimeItem(k));
                if (i + 1 >= warmup && (warm.All(Settled) || clock.Elapsed > WarmupBudget)) break;
            }
            var times = Enumerable.Range(0, items).Select(_ => new List<double>()).ToArray();
            for (int i = 0; i < repeat; i++)
                for (int j = 0; j < items; j++)
                {
                    int k = (i + j) % items;
                    times[k].Add(TimeItem(k));
                }
            double copyGbps = probe.Gbps(Median(times[items - 1]));
            yield return new BenchRow(target.Spec, target.Shape, pass, Median(times[normLabItem]),
                nativeItem is { } n ? Median(times[n]) : null, Median(times[compositeItem]),
                target.FloorBytes(pass) / (copyGbps * 1e9) * 1e3, copyGbps,
                referenceItem is { } r ? Median(times[r]) : null);
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
