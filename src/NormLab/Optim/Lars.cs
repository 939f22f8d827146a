using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>Options of <see cref="Lars"/>.</summary>
public sealed class LarsOptions : SgdOptions
{
    /// <summary>Trust coefficient η (> 0) of the local learning rate.</summary>
    public double? eta { get => Real(nameof(eta)); set => Set(nameof(eta), value); }

    /// <summary>Exclude rank-0/1 parameters (biases, normalization γ/β) from adaptation and weight decay.</summary>
    public bool? exclude_bias { get => Flag(nameof(exclude_bias)); set => Set(nameof(exclude_bias), value); }

    /// <summary>LARC clipping: the local rate becomes min(local_lr/lr, 1), so the step never exceeds plain SGD's.</summary>
    public bool? clip { get => Flag(nameof(clip)); set => Set(nameof(clip), value); }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        OptimChecks.Positive(eta, nameof(eta));
    }
}

/// <summary>
/// LARS, layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017, "Large Batch Training of
/// Convolutional Networks"). Per parameter tensor: local_lr = η·‖w‖/(‖g‖ + λ‖w‖), set to 1 when ‖w‖ or
/// ‖g‖ is 0; d = local_lr·(g + λw); buf = m·buf + d; w ← w − lr·buf (Nesterov: w ← w − lr·(d + m·buf)).
/// </summary>
/// <remarks>
/// Follows timm's <c>Lars</c> (the trust ratio scales the decayed gradient, then PyTorch SGD momentum
/// with the buffer holding lr-free directions) rather than the paper's form v ← m·v + lr·local_lr·(g + λw),
/// w ← w − v. The two agree exactly while lr is constant (from a zero buffer); under a schedule, timm's
/// form applies a new lr to the whole buffer at once. Differences from timm: no eps in the denominator
/// (the 0-norm rule already prevents division by zero) and adaptation always applies (timm's
/// <c>always_adapt=True</c>); <c>exclude_bias</c> reproduces timm's usual no-decay group for rank ≤ 1
/// tensors, which then take a plain momentum-SGD step. With <c>clip</c> (NVIDIA apex LARC), the local rate
/// is min(local_lr/lr, 1), applied after the 0-norm rule. With <c>gc</c>, g is centralized first, so
/// ‖g‖ is the centralized gradient's norm. State: <c>momentum_buffer</c>.
/// </remarks>
public sealed class Lars : NormOptimizer<LarsOptions>, torch.optim.IMomentum
{
    /// <summary>Creates LARS over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Global learning rate, >= 0 (default 1.0, as timm).</param>
    /// <param name="momentum">Momentum factor, >= 0 (default 0.9, as the paper).</param>
    /// <param name="weight_decay">λ, >= 0, added to the gradient and to the trust ratio's denominator (default 0).</param>
    /// <param name="eta">Trust coefficient η, > 0 (default 0.001).</param>
    /// <param name="nesterov">Nesterov momentum; needs momentum > 0 (default false).</param>
    /// <param name="exclude_bias">No adaptation and no decay for tensors of rank ≤ 1 (default false).</param>
    /// <param name="clip">LARC clipping min(local_lr/lr, 1) (default false).</param>
    /// <param name="gc">Gradient centralization of g before everything else (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, momentum or weight decay, η ≤ 0, Nesterov without momentum, no parameters.</exception>
    public Lars(IEnumerable<Parameter> parameters, double lr = 1.0, double momentum = 0.9, double weight_decay = 0, double eta = 0.001,
        bool nesterov = false, bool exclude_bias = false, bool clip = false, bool gc = false)
        : this(new[] { new ParamGroup<LarsOptions>(parameters) }, lr, momentum, weight_decay, eta, nesterov, exclude_bias, clip, gc) { }

    /// <summary>Creates LARS over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="Lars(IEnumerable{Parameter}, double, double, double, double, bool, bool, bool, bool)"/>
    public Lars(IEnumerable<ParamGroup> groups, double lr = 1.0, double momentum = 0.9, double weight_decay = 0, double eta = 0.001,
        bool nesterov = false, bool exclude_bias = false, bool clip = false, bool gc = false)
        : base(groups, new LarsOptions
        {
            LearningRate = lr, momentum = momentum, weight_decay = weight_decay, eta = eta,
            nesterov = nesterov, exclude_bias = exclude_bias, clip = clip, gc = gc,
        }) { }

    /// <inheritdoc />
    public double Momentum { get => Defaults.momentum!.Value; set => Defaults.momentum = value; }

    /// <inheritdoc />
    protected override ParamGroup CreateGroup(Parameter[] parameters, LarsOptions options) => new MomentumParamGroup<LarsOptions>(parameters, options);

    /// <inheritdoc />
    protected override ParameterState CreateState(Parameter parameter) =>
        new(parameter, tracksStep: false, new[] { new StateKey(UpdateRules.MomentumBuffer, StateInit.Lazy) });

    /// <inheritdoc />
    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, LarsOptions o)
    {
        double lr = o.LearningRate!.Value, wd = o.weight_decay!.Value;
        var g = o.gc!.Value ? GradientCentralization.Centralize(grad) : grad;
        Tensor d = g;
        if (!(o.exclude_bias!.Value && parameter.dim() <= 1))
        {
            var wNorm = UpdateRules.Norm(parameter);
            var gNorm = UpdateRules.Norm(g);
            var local = UpdateRules.TrustRatio(wNorm, gNorm, wNorm * o.eta!.Value / (gNorm + wNorm * wd));
            if (o.clip!.Value) local = (local / lr).clamp_max(1.0);
            d = g.add(parameter, alpha: wd).mul_(local);
        }
        d = UpdateRules.HeavyBall(state, d, o.momentum!.Value, o.nesterov!.Value);
        parameter.add_(d, alpha: -lr);
    }
}
