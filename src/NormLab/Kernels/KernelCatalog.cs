using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// Finds the kernels that implement a normalizer's composition. Where LibTorch has a native op (BN, LN, IN,
/// GN), <see cref="KernelMode.Auto"/> uses it and the fused kernel runs only under
/// <see cref="KernelMode.Fused"/> (tests and <c>normlab bench</c>): measured on two cores, the study's CNN
/// trained 12–23% faster natively (batch 64: BN 7,186 vs 6,397 images/s, LN 7,766 vs 6,448, IN 6,984 vs
/// 5,693, GN 7,724 vs 6,270), and at batch 2 a custom autograd call costs about 50 µs more per forward and
/// backward than a native one. Elsewhere the fused kernel comes first, then the composite.
/// </summary>
internal static class KernelCatalog
{
    /// <summary>Installs the catalog into the framework when the assembly loads.</summary>
#pragma warning disable CA2255 // intended: the catalogue must be installed before any Normalizer is built, and only this assembly creates them
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install() => Normalizer.KernelFinder = For;

    public static NormKernel[] For(Normalizer layer)
    {
        var fused = FusedKernels.Match(layer);
        var native = NativeKernels.Match(layer);
        if (fused is not null && native is not null) fused = new OnlyWhenForced(fused);
        return new[] { fused, native }.OfType<NormKernel>().ToArray();
    }

    /// <summary>A kernel that runs only under <see cref="KernelMode.Fused"/>, leaving other modes to the next kernel.</summary>
    private sealed class OnlyWhenForced(NormKernel inner) : NormKernel
    {
        public override bool IsNative => inner.IsNative;

        public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass) =>
            KernelPolicy.Current == KernelMode.Fused ? inner.TryForward(layer, x, pass) : null;
    }
}
