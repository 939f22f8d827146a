using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>Pieces shared by several update rules: the trust ratio with its 0-norm rule, heavy-ball momentum, Adam moments.</summary>
internal static class UpdateRules
{
    /// <summary>State key of the heavy-ball buffer (PyTorch SGD).</summary>
    public const string MomentumBuffer = "momentum_buffer";

    /// <summary>State key of Adam's first moment.</summary>
    public const string ExpAvg = "exp_avg";

    /// <summary>State key of Adam's second moment.</summary>
    public const string ExpAvgSq = "exp_avg_sq";

    /// <summary>The L2 norm of all elements, as a 0-d tensor.</summary>
    public static Tensor Norm(Tensor t) => linalg.vector_norm(t);

    /// <summary>The 0-norm rule of LARS, LAMB and LANS: <paramref name="ratio"/> where both norms are > 0, else 1 (0-d tensors).</summary>
    public static Tensor TrustRatio(Tensor weightNorm, Tensor otherNorm, Tensor ratio) =>
        where(weightNorm.gt(0).logical_and(otherNorm.gt(0)), ratio, ones_like(ratio));

    /// <summary>
    /// PyTorch SGD momentum on the update direction d: buf = d on the first step (buffer absent), else
    /// buf = m·buf + d; returns d + m·buf with Nesterov, else buf. With m = 0 it returns d and keeps no buffer.
    /// </summary>
    public static Tensor HeavyBall(ParameterState state, Tensor d, double momentum, bool nesterov)
    {
        if (momentum == 0) return d;
        var buf = state[MomentumBuffer];
        if (buf is null)
        {
            state[MomentumBuffer] = d.clone();
            buf = state[MomentumBuffer]!;
        }
        else
        {
            buf.mul_(momentum).add_(d);
        }
        return nesterov ? d.add(buf, alpha: momentum) : buf;
    }

    /// <summary>Advances the step and the moments: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g². Returns the new step t.</summary>
    public static long AccumulateMoments(ParameterState state, Tensor g, double beta1, double beta2)
    {
        state.step += 1;
        state[ExpAvg]!.mul_(beta1).add_(g, alpha: 1 - beta1);
        state[ExpAvgSq]!.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
        return state.step;
    }

    /// <summary>The bias-corrected denominator sqrt(v̂) + eps with v̂ = v/(1−β2^t): eps outside the square root.</summary>
    public static Tensor Denominator(ParameterState state, double beta2, double eps, long t) =>
        (state[ExpAvgSq]!.sqrt() / Math.Sqrt(1 - Math.Pow(beta2, t))).add_(eps);

    /// <summary>Adam's direction r = m̂/(sqrt(v̂) + eps) with m̂ = m/(1−β1^t).</summary>
    public static Tensor AdamDirection(ParameterState state, double beta1, double beta2, double eps, long t) =>
        AdamDirection(state, beta1, t, Denominator(state, beta2, eps, t));

    /// <summary>m̂/denominator with m̂ = m/(1−β1^t), for a denominator already computed.</summary>
    public static Tensor AdamDirection(ParameterState state, double beta1, long t, Tensor denominator) =>
        (state[ExpAvg]! / (1 - Math.Pow(beta1, t))).div_(denominator);
}
