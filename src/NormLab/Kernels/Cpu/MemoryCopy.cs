using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace NormLab.Kernels.Cpu;

/// <summary>A plain SIMD copy on the kernel threads: the reference for memory bandwidth in <c>normlab bench</c>.</summary>
internal static unsafe class MemoryCopy
{
    /// <summary>Copies a contiguous float32 CPU tensor into another of the same size.</summary>
    /// <exception cref="ArgumentException">the tensors are not contiguous float32 CPU tensors of equal size.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(Tensor src, Tensor dst)
    {
        if (!RawTensor.Usable(src) || !RawTensor.Usable(dst) || src.dtype != ScalarType.Float32 || dst.dtype != ScalarType.Float32 || src.numel() != dst.numel())
            throw new ArgumentException("MemoryCopy needs two contiguous float32 CPU tensors of equal size", nameof(src));
        long n = src.numel();
        nint ps = (nint)RawTensor.Ptr<float>(src), pd = (nint)RawTensor.Ptr<float>(dst);
        const long Block = 4096;
        KernelParallel.For((n + Block - 1) / Block, Block, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            float* s = (float*)ps, d = (float*)pd;
            long from = start * Block, to = Math.Min(end * Block, n), i = from;
            for (; i + 8 <= to; i += 8) Vector256.Store(Vector256.Load(s + i), d + i);
            for (; i < to; i++) d[i] = s[i];
        });
    }
}
