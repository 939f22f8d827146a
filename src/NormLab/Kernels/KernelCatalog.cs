using NormLab.Framework;

namespace NormLab.Kernels;

/// <summary>Finds the kernels that implement a normalizer's composition, fastest first.</summary>
internal static class KernelCatalog
{
    public static NormKernel[] For(Normalizer layer) =>
        new[] { NativeKernels.Match(layer) }.OfType<NormKernel>().ToArray();
}
