using NormLab.Framework;
using NormLab.Kernels.Cpu;
using NormLab.Recoveries;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>NormLab's fused CPU kernels: matching a composition to its kernel, and the checks they share.</summary>
internal static class FusedKernels
{
    private static long _calls;

    /// <summary>How many fused forward calls ran in this process (diagnostics: tests check that a kernel really ran).</summary>
    public static long Calls => Interlocked.Read(ref _calls);

    /// <summary>Counts one fused forward call.</summary>
    public static void Count() => Interlocked.Increment(ref _calls);

    /// <summary>The fused kernel for a layer's composition, or null.</summary>
    public static NormKernel? Match(Normalizer layer) =>
        (NormKernel?)FusedRowKernel.Match(layer) ?? (NormKernel?)FusedColumnKernel.Match(layer)
        ?? (NormKernel?)FusedSwitchKernel.Match(layer) ?? FusedWhiteningKernel.Match(layer);

    /// <summary>Whether the fused kernels take this input: a non-empty float32/float64 CPU tensor of at most 2³¹ elements per row set.</summary>
    public static bool Supports(Tensor x) =>
        x.device_type == DeviceType.CPU && x.dtype is ScalarType.Float32 or ScalarType.Float64 && x.numel() > 0;

    /// <summary>The affine kind of a recovery, or null when the kernels do not fuse it.</summary>
    public static AffineKind? AffineKindOf(Recovery recovery) => recovery switch
    {
        IdentityRecovery => AffineKind.None,
        AffineRecovery { Scale: false, Shift: false } => AffineKind.None,
        AffineRecovery { Layout: AffineLayout.PerChannel } => AffineKind.PerChannel,
        AffineRecovery { Layout: AffineLayout.Elementwise } => AffineKind.Elementwise,
        _ => null,
    };

    /// <summary>γ and β of an affine recovery (null when absent), made contiguous.</summary>
    public static (Tensor? Weight, Tensor? Bias) Affine(Recovery recovery) =>
        recovery is AffineRecovery a ? (a.Weight?.contiguous(), a.Bias?.contiguous()) : (null, null);

    /// <summary>
    /// The layer's composite forward for <paramref name="pass"/>, without updating the running
    /// estimate: what a fused call differentiates when its backward must itself be differentiable.
    /// </summary>
    public static Func<Tensor, Tensor?[], Tensor> Composite(Normalizer layer, NormPass pass)
    {
        var quiet = pass.UseRunning ? pass : NormPass.Batch(null);
        return (x, _) => layer.Recovery.Apply(layer.Operation.Normalize(layer.Area.View(x), layer.Area, quiet).reshape(x.shape), x);
    }

    /// <summary>A small tensor's values as float64.</summary>
    public static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>
    /// A parameter gradient from float64 sums: a new tensor of <paramref name="shape"/> and <paramref name="dtype"/>
    /// (float32 or float64) holding <paramref name="values"/> rounded once. One allocation, where
    /// <c>tensor(values).to(dtype).reshape(shape)</c> took three LibTorch calls, about 40 µs a gradient from cold caches.
    /// </summary>
    /// <exception cref="ArgumentException">the shape does not hold exactly <paramref name="values"/>.Length elements.</exception>
    public static unsafe Tensor Gradient(double[] values, long[] shape, ScalarType dtype)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        if (count != values.Length)
            throw new ArgumentException($"gradient of shape {Checks.Shape(shape)} holds {count} values, got {values.Length}", nameof(values));
        var result = empty(shape, dtype: dtype);
        fixed (double* v = values)
        {
            if (dtype == ScalarType.Float32) RowMath.Narrow(v, RawTensor.Ptr<float>(result), count);
            else RowMath.Narrow(v, RawTensor.Ptr<double>(result), count);
        }
        return result;
    }

    /// <summary>A parameter gradient from per-worker float64 sums: a new tensor of <paramref name="shape"/> and <paramref name="dtype"/> (float32 or float64).</summary>
    /// <exception cref="ArgumentException">the shape does not hold exactly <paramref name="sums"/>.Length elements.</exception>
    public static unsafe Tensor Gradient(WorkerSums sums, long[] shape, ScalarType dtype)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        if (count != sums.Length)
            throw new ArgumentException($"gradient of shape {Checks.Shape(shape)} holds {count} values, got {sums.Length}", nameof(sums));
        var result = empty(shape, dtype: dtype);
        if (dtype == ScalarType.Float32) sums.SumInto(RawTensor.Ptr<float>(result));
        else sums.SumInto(RawTensor.Ptr<double>(result));
        return result;
    }
}
