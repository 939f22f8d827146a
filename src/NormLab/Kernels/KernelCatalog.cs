using NormLab.Framework;

namespace NormLab.Kernels;

/// <summary>Finds the kernels that implement a normalizer's composition, fastest first: fused CPU kernels, then LibTorch's native ops.</summary>
internal static class KernelCatalog
{
    /// <summary>Installs the catalog into the framework when the assembly loads.</summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Install() => Normalizer.KernelFinder = For;

    public static NormKernel[] For(Normalizer layer) =>
        new[] { FusedKernels.Match(layer), NativeKernels.Match(layer) }.OfType<NormKernel>().ToArray();
}
