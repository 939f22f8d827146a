using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>
/// LANS (Zheng, Lin, Zha and Li 2020, "Accelerated Large Batch Optimization of BERT Pretraining in 54
/// minutes"): LAMB on the per-block normalized gradient ĝ = g/‖g‖ with a Nesterov-style combination of
/// two trust-ratio terms. m, v are Adam moments of ĝ; d = sqrt(v̂) + ε; r = m̂/d + λw; c = ĝ/d + λw;
/// w ← w − lr·β1·(‖w‖/‖r‖)·r − lr·(1−β1)·(‖w‖/‖c‖)·c, each ratio set to 1 when a norm in it is 0.
/// </summary>
/// <remarks>
/// Matches the fused MXNet operator <c>multi_lans_update</c> (the default path of MXNet's/GluonNLP's
/// <c>LANS</c>): both terms use the weight before the step, ε is outside the square root of the
/// bias-corrected v̂, and the decay λw sits inside each trusted term. One deviation: a zero gradient
/// is normalized to zero (the reference divides 0 by 0 and produces NaN), so the moments just decay.
/// No weight-norm bounds (the reference's <c>lower_bound</c>/<c>upper_bound</c> default off). The
/// <c>gc</c> option, if set, centralizes g before the normalization. State keys: <c>step</c>,
/// <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </remarks>
public sealed class Lans : AdamFamily<AdamOptions>
{
    /// <summary>Creates LANS over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Learning rate, >= 0 (default 1e-3).</param>
    /// <param name="beta1">First-moment decay in [0, 1), also the Nesterov mixing weight (default 0.9).</param>
    /// <param name="beta2">Second-moment decay in [0, 1) (default 0.999).</param>
    /// <param name="eps">ε outside the square root, >= 0 (default 1e-6, as the reference).</param>
    /// <param name="weight_decay">λ inside both trusted terms, >= 0 (default 0, as the reference).</param>
    /// <param name="gc">Gradient centralization of g before normalization (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, eps or weight decay, a beta outside [0, 1), no parameters.</exception>
    public Lans(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6, double weight_decay = 0, bool gc = false)
        : this(new[] { new ParamGroup<AdamOptions>(parameters) }, lr, beta1, beta2, eps, weight_decay, gc) { }

    /// <summary>Creates LANS over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="Lans(IEnumerable{Parameter}, double, double, double, double, double, bool)"/>
    public Lans(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6, double weight_decay = 0, bool gc = false)
        : base(groups, new AdamOptions { LearningRate = lr, beta1 = beta1, beta2 = beta2, eps = eps, weight_decay = weight_decay, gc = gc }) { }

    /// <inheritdoc />
    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, AdamOptions o)
    {
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, wd = o.weight_decay!.Value;
        var g = o.gc!.Value ? GradientCentralization.Centralize(grad) : grad;
        var gHat = LayerwiseGradNorm.Normalize(g);
        long t = UpdateRules.AccumulateMoments(state, gHat, beta1, beta2);
        var denominator = UpdateRules.Denominator(state, beta2, o.eps!.Value, t);
        var r = UpdateRules.AdamDirection(state, beta1, t, denominator);
        var c = gHat / denominator;
        if (wd != 0)
        {
            r.add_(parameter, alpha: wd);
            c.add_(parameter, alpha: wd);
        }
        var wNorm = UpdateRules.Norm(parameter);
        var rNorm = UpdateRules.Norm(r);
        var cNorm = UpdateRules.Norm(c);
        var step = r.mul_(UpdateRules.TrustRatio(wNorm, rNorm, wNorm / rNorm) * beta1)
            .add_(c.mul_(UpdateRules.TrustRatio(wNorm, cNorm, wNorm / cNorm) * (1 - beta1)));
        parameter.add_(step, alpha: -lr);
    }
}
