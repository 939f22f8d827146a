using NormLab.Framework;

namespace NormLab.Kernels;

/// <summary>Finds the kernels that implement a normalizer's composition, fastest first: fused CPU kernels, then LibTorch's native ops.</summary>
internal static class KernelCatalog
{
    /// <summary>Installs the catalog into the framework when the assembly loads.</summary>
#pragma warning disable CA2255 // intended: the catalogue must be installed before any Normalizer is built, and only this assembly creates them
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install() => Normalizer.KernelFinder = For;

    public static NormKernel[] For(Normalizer layer) =>
        new[] { FusedKernels.Match(layer), NativeKernels.Match(layer) }.OfType<NormKernel>().ToArray();
}
