using NormLab.Areas;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Kernels;

/// <summary>
/// LibTorch's native batch_norm, instance_norm, group_norm and layer_norm, used where a composition
/// has exactly their semantics: biased standardization with a γ/β recovery (or none).
/// </summary>
internal static class NativeKernels
{
    public static NormKernel? Match(Normalizer layer)
    {
        if (layer.Operation is not Standardization { UnbiasedVariance: false } op) return null;
        var affine = layer.Recovery as AffineRecovery;
        if (layer.Recovery is not IdentityRecovery && affine is not { Scale: true, Shift: true }) return null;
        bool perChannel = affine is null || affine.Layout == AffineLayout.PerChannel;
        bool elementwise = affine is null || affine.Layout == AffineLayout.Elementwise;
        const ViewAxes all = ViewAxes.Batch | ViewAxes.Channel | ViewAxes.Space;
        const ViewAxes perSample = ViewAxes.Channel | ViewAxes.Space;
        return layer.Area switch
        {
            LayerArea area when elementwise => new LayerNormKernel(area.NormalizedShape, op.Eps),
            LayerArea => null,
            ReductionArea area when perChannel && area.Reduce == all && area.Groups == area.Channels => new BatchNormKernel(op.Eps),
            ReductionArea area when perChannel && area.Reduce == perSample && area.Groups == area.Channels => new InstanceNormKernel(op.Eps),
            ReductionArea area when perChannel && area.Reduce == perSample && layer.Running is null => new GroupNormKernel(area.Groups, op.Eps),
            _ => null,
        };
    }

    private static (Tensor? Weight, Tensor? Bias) Affine(Normalizer layer) =>
        layer.Recovery is AffineRecovery a ? (a.Weight, a.Bias) : (null, null);

    private abstract class Native : NormKernel
    {
        public override bool IsNative => true;
    }

    private sealed class BatchNormKernel(double eps) : Native
    {
        public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
        {
            var (w, b) = Affine(layer);
            if (pass.UseRunning)
                return F.batch_norm(x, pass.Running!["mean"], pass.Running["var"], w, b, training: false, eps: eps);
            if (pass.Running is { } r)
                return F.batch_norm(x, r["mean"], r["var"], w, b, training: true, momentum: r.CountBatch(), eps: eps);
            return F.batch_norm(x, null, null, w, b, training: true, eps: eps);
        }
    }

    private sealed class InstanceNormKernel(double eps) : Native
    {
        public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
        {
            if (x.dim() < 3) return null;
            var (w, b) = Affine(layer);
            if (pass.UseRunning)
                return F.instance_norm(x, pass.Running!["mean"], pass.Running["var"], w, b, use_input_stats: false, eps: eps);
            if (pass.Running is { } r)
                return F.instance_norm(x, r["mean"], r["var"], w, b, use_input_stats: true, momentum: r.CountBatch(), eps: eps);
            return F.instance_norm(x, null, null, w, b, use_input_stats: true, eps: eps);
        }
    }

    private sealed class GroupNormKernel(long groups, double eps) : Native
    {
        public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
        {
            var (w, b) = Affine(layer);
            return F.group_norm(x, groups, w, b, eps);
        }
    }

    private sealed class LayerNormKernel(long[] normalizedShape, double eps) : Native
    {
        public override Tensor? TryForward(Normalizer layer, Tensor x, NormPass pass)
        {
            var (w, b) = Affine(layer);
            return F.layer_norm(x, normalizedShape, w, b, eps);
        }
    }
}
