using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// A faster implementation of one (area, operation, recovery) composition, with exactly the
/// composite's semantics, including the running-estimate update. Tested against the composite.
/// </summary>
internal abstract class NormKernel
{
    /// <summary>True for LibTorch's native ops (twice differentiable), false for NormLab's fused kernels.</summary>
    public abstract bool IsNative { get; }

    /// <summary>Runs the whole forward (normalization and recovery), or returns null when the input is not supported.</summary>
    public abstract Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass);

    /// <summary>Whether the policy in effect allows this kernel.</summary>
    public bool Allowed => KernelPolicy.Current switch
    {
        KernelMode.Auto or KernelMode.Fused => true,
        KernelMode.Native => IsNative,
        _ => false,
    };
}
