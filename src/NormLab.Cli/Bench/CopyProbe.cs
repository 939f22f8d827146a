using System.Diagnostics;
using static TorchSharp.torch;

namespace NormLab.Cli.Bench;

/// <summary>
/// The memory copy behind the bench's floor: a 128 MiB float32 tensor copied into a preallocated one,
/// far beyond the caches. Each timing takes the faster of LibTorch's <c>copy_</c> and a plain SIMD copy
/// loop on the kernel threads (either is sometimes the slower one on a loaded machine, which would make
/// the floor too easy).
/// </summary>
internal sealed class CopyProbe : IDisposable
{
    /// <summary>Elements of each buffer: 32 Mi floats (128 MiB).</summary>
    private const long Elements = 32L << 20;

    private readonly Tensor _src = ones(Elements, ScalarType.Float32);
    private readonly Tensor _dst = zeros(Elements, ScalarType.Float32);

    /// <summary>One copy, in milliseconds: the faster of the two ways.</summary>
    public double Time()
    {
        var sw = Stopwatch.StartNew();
        _dst.copy_(_src);
        double libtorch = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        NormLab.Kernels.Cpu.MemoryCopy.Copy(_src, _dst);
        return Math.Min(libtorch, sw.Elapsed.TotalMilliseconds);
    }

    /// <summary>GB/s (10⁹ bytes read plus written per second) for a copy that took <paramref name="ms"/>.</summary>
    public double Gbps(double ms) => 2.0 * Elements * sizeof(float) / (ms * 1e-3) / 1e9;

    public void Dispose()
    {
        _src.Dispose();
        _dst.Dispose();
    }
}
