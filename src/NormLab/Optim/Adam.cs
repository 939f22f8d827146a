using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>Options of the Adam family (<see cref="Adam"/>, <see cref="AdamW"/>, <see cref="Lans"/>; extended by <see cref="Lamb"/>).</summary>
public class AdamOptions : OptimOptions
{
    /// <summary>First-moment decay β1, in [0, 1).</summary>
    public double? beta1 { get => Real(nameof(beta1)); set => Set(nameof(beta1), value); }

    /// <summary>Second-moment decay β2, in [0, 1).</summary>
    public double? beta2 { get => Real(nameof(beta2)); set => Set(nameof(beta2), value); }

    /// <summary>Denominator offset ε (>= 0), added outside the square root: sqrt(v̂) + ε.</summary>
    public double? eps { get => Real(nameof(eps)); set => Set(nameof(eps), value); }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        OptimChecks.UnitInterval(beta1, nameof(beta1));
        OptimChecks.UnitInterval(beta2, nameof(beta2));
        OptimChecks.NonNegative(eps, nameof(eps));
    }
}

/// <summary>
/// Base of the optimizers built on Adam's bias-corrected moments: one options type, groups whose betas
/// schedulers can cycle, and per-parameter state <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c> (zeros at start).
/// </summary>
public abstract class AdamFamily<TOptions> : NormOptimizer<TOptions>, torch.optim.IBetas where TOptions : AdamOptions, new()
{
    private static readonly StateKey[] Keys =
    {
        new(UpdateRules.ExpAvg, StateInit.Zeros),
        new(UpdateRules.ExpAvgSq, StateInit.Zeros),
    };

    /// <summary>Validates <paramref name="defaults"/> and adds every group.</summary>
    protected AdamFamily(IEnumerable<ParamGroup> groups, TOptions defaults) : base(groups, defaults) { }

    /// <inheritdoc />
    public (double, double) Betas
    {
        get => (Defaults.beta1!.Value, Defaults.beta2!.Value);
        set { Defaults.beta1 = value.Item1; Defaults.beta2 = value.Item2; }
    }

    /// <inheritdoc />
    protected override ParamGroup CreateGroup(Parameter[] parameters, TOptions options) => new BetasParamGroup<TOptions>(parameters, options);

    /// <inheritdoc />
    protected override ParameterState CreateState(Parameter parameter) => new(parameter, tracksStep: true, Keys);
}

/// <summary>
/// Adam (Kingma and Ba 2015, "Adam: A Method for Stochastic Optimization") with L2 weight decay and
/// optional gradient centralization: g' = Φ(g + λw); m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
/// w ← w − lr·m̂/(sqrt(v̂) + ε), with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t) and t the step (1 on the first).
/// </summary>
/// <remarks>
/// Matches <c>torch.optim.Adam</c> (amsgrad off) and, with <c>gc</c>, <c>Adam_GC</c> of the
/// Gradient-Centralization reference, which centralizes the weight-decayed gradient. State keys:
/// <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </remarks>
public class Adam : AdamFamily<AdamOptions>
{
    /// <summary>Creates Adam over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Learning rate, >= 0 (default 1e-3).</param>
    /// <param name="beta1">First-moment decay in [0, 1) (default 0.9).</param>
    /// <param name="beta2">Second-moment decay in [0, 1) (default 0.999).</param>
    /// <param name="eps">ε outside the square root, >= 0 (default 1e-8).</param>
    /// <param name="weight_decay">λ, >= 0 (default 0): an L2 term added to the gradient.</param>
    /// <param name="gc">Gradient centralization (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, eps or weight decay, a beta outside [0, 1), no parameters.</exception>
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool gc = false)
        : this(new[] { new ParamGroup<AdamOptions>(parameters) }, lr, beta1, beta2, eps, weight_decay, gc) { }

    /// <summary>Creates Adam over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="Adam(IEnumerable{Parameter}, double, double, double, double, double, bool)"/>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0, bool gc = false)
        : base(groups, new AdamOptions { LearningRate = lr, beta1 = beta1, beta2 = beta2, eps = eps, weight_decay = weight_decay, gc = gc }) { }

    /// <summary>Whether weight decay is decoupled (AdamW) rather than an L2 term.</summary>
    protected virtual bool Decoupled => false;

    /// <inheritdoc />
    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, AdamOptions o)
    {
        double lr = o.LearningRate!.Value, wd = o.weight_decay!.Value;
        var g = grad;
        if (Decoupled) parameter.mul_(1 - lr * wd);
        else if (wd != 0) g = g.add(parameter, alpha: wd);
        if (o.gc!.Value) g = GradientCentralization.Centralize(g);
        long t = UpdateRules.AccumulateMoments(state, g, o.beta1!.Value, o.beta2!.Value);
        parameter.add_(UpdateRules.AdamDirection(state, o.beta1.Value, o.beta2.Value, o.eps!.Value, t), alpha: -lr);
    }
}

/// <summary>
/// AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization"): Adam whose weight decay
/// is decoupled, w ← w·(1 − lr·λ) before the Adam step on Φ(g).
/// </summary>
/// <remarks>
/// Matches <c>torch.optim.AdamW</c> (amsgrad off) and, with <c>gc</c>, the reference's AdamW with GC
/// on the raw gradient. State keys: <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </remarks>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Learning rate, >= 0 (default 1e-3).</param>
    /// <param name="beta1">First-moment decay in [0, 1) (default 0.9).</param>
    /// <param name="beta2">Second-moment decay in [0, 1) (default 0.999).</param>
    /// <param name="eps">ε outside the square root, >= 0 (default 1e-8).</param>
    /// <param name="weight_decay">Decoupled decay λ, >= 0 (default 0.01, as PyTorch).</param>
    /// <param name="gc">Gradient centralization of the raw gradient (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, eps or weight decay, a beta outside [0, 1), no parameters.</exception>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01, bool gc = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, gc) { }

    /// <summary>Creates AdamW over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="AdamW(IEnumerable{Parameter}, double, double, double, double, double, bool)"/>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01, bool gc = false)
        : base(groups, lr, beta1, beta2, eps, weight_decay, gc) { }

    /// <inheritdoc />
    protected override bool Decoupled => true;
}
