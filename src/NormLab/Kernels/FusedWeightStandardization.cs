using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>Weight standardization as a fused CPU kernel (stub).</summary>
public static class FusedWeightStandardization
{
    /// <summary>Stub.</summary>
    public static Tensor? TryApply(Tensor weight, double eps, bool official) => null;
}
