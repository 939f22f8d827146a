using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>Options of <see cref="Lamb"/>.</summary>
public sealed class LambOptions : AdamOptions
{
    /// <summary>Upper bound c of φ(z) = min(z, c) applied to ‖w‖ in the trust ratio (> 0); null = no clamp, φ(z) = z.</summary>
    public double? clamp { get => Real(nameof(clamp)); set => Set(nameof(clamp), value); }

    /// <summary>Exclude rank-0/1 parameters (biases, normalization γ/β) from adaptation and weight decay.</summary>
    public bool? exclude_bias { get => Flag(nameof(exclude_bias)); set => Set(nameof(exclude_bias), value); }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        OptimChecks.Positive(clamp, nameof(clamp));
    }
}

/// <summary>
/// LAMB, layer-wise adaptive moments (You et al. 2020, "Large Batch Optimization for Deep Learning:
/// Training BERT in 76 minutes"). Per parameter tensor: Adam moments of g with bias corrections β^t;
/// r = m̂/(sqrt(v̂) + ε); u = r + λw; w ← w − lr·(φ(‖w‖)/‖u‖)·u, the trust ratio set to 1 when ‖w‖ or ‖u‖ is 0.
/// </summary>
/// <remarks>
/// Matches timm's <c>Lamb</c> update (ε outside the square root of v̂, decay inside the trusted update)
/// except that adaptation always applies (timm's <c>always_adapt=True</c>; <c>exclude_bias</c> gives its
/// usual no-decay, no-adaptation treatment of rank ≤ 1 tensors, which then take a plain Adam step) and
/// there is no global gradient-norm clipping (timm's <c>max_grad_norm</c>; call <c>clip_grad_norm_</c>
/// first if wanted). The optional clamp φ(z) = min(z, c) bounds ‖w‖ as in the paper's scaling function.
/// With <c>gc</c>, g is centralized before the moments. The step count is per parameter, as PyTorch's
/// Adam. State keys: <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </remarks>
public sealed class Lamb : AdamFamily<LambOptions>
{
    /// <summary>Creates LAMB over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Learning rate, >= 0 (default 1e-3).</param>
    /// <param name="beta1">First-moment decay in [0, 1) (default 0.9).</param>
    /// <param name="beta2">Second-moment decay in [0, 1) (default 0.999).</param>
    /// <param name="eps">ε outside the square root, >= 0 (default 1e-6, as timm).</param>
    /// <param name="weight_decay">λ added to the update before the trust ratio, >= 0 (default 0.01, as timm).</param>
    /// <param name="clamp">Upper bound of φ on ‖w‖, > 0, or null for none (default null).</param>
    /// <param name="exclude_bias">No adaptation and no decay for tensors of rank ≤ 1 (default false).</param>
    /// <param name="gc">Gradient centralization of g (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, eps or weight decay, a beta outside [0, 1), clamp ≤ 0, no parameters.</exception>
    public Lamb(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6,
        double weight_decay = 0.01, double? clamp = null, bool exclude_bias = false, bool gc = false)
        : this(new[] { new ParamGroup<LambOptions>(parameters) }, lr, beta1, beta2, eps, weight_decay, clamp, exclude_bias, gc) { }

    /// <summary>Creates LAMB over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="Lamb(IEnumerable{Parameter}, double, double, double, double, double, double?, bool, bool)"/>
    public Lamb(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6,
        double weight_decay = 0.01, double? clamp = null, bool exclude_bias = false, bool gc = false)
        : base(groups, new LambOptions
        {
            LearningRate = lr, beta1 = beta1, beta2 = beta2, eps = eps, weight_decay = weight_decay,
            clamp = clamp, exclude_bias = exclude_bias, gc = gc,
        }) { }

    /// <inheritdoc />
    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, LambOptions o)
    {
        var g = o.gc!.Value ? GradientCentralization.Centralize(grad) : grad;
        long t = UpdateRules.AccumulateMoments(state, g, o.beta1!.Value, o.beta2!.Value);
        var update = UpdateRules.AdamDirection(state, o.beta1.Value, o.beta2.Value, o.eps!.Value, t);
        if (!(o.exclude_bias!.Value && parameter.dim() <= 1))
        {
            if (o.weight_decay!.Value != 0) update.add_(parameter, alpha: o.weight_decay.Value);
            var wNorm = UpdateRules.Norm(parameter);
            var uNorm = UpdateRules.Norm(update);
            var phi = o.clamp is { } c ? wNorm.clamp_max(c) : wNorm;
            update.mul_(UpdateRules.TrustRatio(wNorm, uNorm, phi / uNorm));
        }
        parameter.add_(update, alpha: -o.LearningRate!.Value);
    }
}
