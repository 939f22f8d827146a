using NormLab.Framework;
using NormLab.Operations;
using static TorchSharp.torch;

namespace NormLab.Kernels;

/// <summary>
/// The fused CPU kernel for switchable normalization on spatial inputs (<see cref="SwitchableStandardization"/>
/// with IN, LN and optionally BN candidates) and a per-channel γ/β. SwitchNorm1d ([N, C] inputs) keeps the composite.
/// </summary>
internal sealed class FusedSwitchKernel(SwitchableStandardization op) : NormKernel
{
    public override bool IsNative => false;

    /// <summary>The kernel for a layer's composition, or null when it has none.</summary>
    public static FusedSwitchKernel? Match(Normalizer layer) =>
        layer.Operation is SwitchableStandardization { Spatial: true } op
        && FusedKernels.AffineKindOf(layer.Recovery) is Cpu.AffineKind.None or Cpu.AffineKind.PerChannel
            ? new FusedSwitchKernel(op)
            : null;

    public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
    {
        if (!FusedKernels.Supports(x) || x.dim() < 3) return null;
        long n = x.shape[0], c = x.shape[1];
        var (w, b) = FusedKernels.Affine(layer.Recovery);
        var mw = layer.get_parameter("mean_weight");
        var vw = layer.get_parameter("var_weight");
        if (!Cpu.RawTensor.Matches(w, x, c) || !Cpu.RawTensor.Matches(b, x, c) || mw is null || vw is null) return null;
        double[]? runningMean = null, runningVar = null;
        if (pass.UseRunning && op.UsingBatchNorm)
        {
            runningMean = FusedKernels.Values(pass.Running!["mean"]);
            runningVar = FusedKernels.Values(pass.Running["var"]);
        }
        var call = new SwitchCall(n, c, x.numel() / (n * c), op.Eps, op.UsingBatchNorm, runningMean, runningVar) { Composite = FusedKernels.Composite(layer, pass) };
        var y = FusedFunction.Apply(call, x.contiguous(), w, b, mw, vw);
        if (!pass.UseRunning && pass.Running is { } running)
        {
            var (mean, variance) = call.BatchNormMoments;
            running.Update(("mean", mean), ("var", variance));
        }
        return y;
    }
}
