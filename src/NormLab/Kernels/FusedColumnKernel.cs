using NormLab.Framework;
using NormLab.Kernels.Cpu;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// The fused CPU kernel for areas that reduce only the channels of a group at each position
/// (positional normalization, PONO) with standardization, RMS scaling or centering and a per-channel
/// γ/β. Such areas have no population statistics, so every pass uses batch statistics.
/// </summary>
internal sealed class FusedColumnKernel : NormKernel
{
    private readonly Func<ScalarType, StatOp> _op;

    private FusedColumnKernel(Func<ScalarType, StatOp> op) => _op = op;

    public override bool IsNative => false;

    /// <summary>The kernel for a layer's composition, or null when it has none.</summary>
    public static FusedColumnKernel? Match(Normalizer layer) =>
        layer.Area is ReductionArea { Reduce: ViewAxes.Channel } and not Areas.LayerArea
        && FusedRowKernel.OpFor(layer.Operation) is { } op
        && FusedKernels.AffineKindOf(layer.Recovery) is AffineKind.None or AffineKind.PerChannel
            ? new FusedColumnKernel(op)
            : null;

    public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
    {
        if (!FusedKernels.Supports(x) || pass.UseRunning) return null;
        var area = (ReductionArea)layer.Area;
        long n = x.shape[0];
        var layout = new RowLayout(n, area.Groups, area.GroupSize, x.numel() / (n * area.Channels), reduceA: false, reduceCg: true)
            { StreamOutput = StreamingStores.For(x) };
        var (w, b) = FusedKernels.Affine(layer.Recovery);
        if (!RawTensor.Matches(w, x, layout.C) || !RawTensor.Matches(b, x, layout.C)) return null;
        return FusedFunction.Apply(new ColumnCall(layout, _op(x.dtype)) { Composite = FusedKernels.Composite(layer, pass) }, x.contiguous(), w, b);
    }
}
