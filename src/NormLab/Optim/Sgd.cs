using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>Options of <see cref="Sgd"/> (and, extended, of <see cref="Lars"/>).</summary>
public class SgdOptions : OptimOptions
{
    /// <summary>Heavy-ball momentum factor m (>= 0; 0 = plain SGD, no buffer).</summary>
    public double? momentum { get => Real(nameof(momentum)); set => Set(nameof(momentum), value); }

    /// <summary>Nesterov momentum (needs momentum > 0).</summary>
    public bool? nesterov { get => Flag(nameof(nesterov)); set => Set(nameof(nesterov), value); }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        OptimChecks.NonNegative(momentum, nameof(momentum));
        if (nesterov == true && momentum is { } m && m <= 0)
            throw new ArgumentException($"nesterov requires momentum > 0, got momentum ({OptimChecks.Format(m)})", nameof(nesterov));
    }
}

/// <summary>
/// Stochastic gradient descent with heavy-ball or Nesterov momentum, L2 weight decay and optional
/// gradient centralization. d = Φ(g + λw) (Φ = centralization when <c>gc</c>, else identity);
/// buf = m·buf + d (buf = d on the first step); w ← w − lr·(Nesterov ? d + m·buf : buf).
/// </summary>
/// <remarks>
/// Matches <c>torch.optim.SGD</c> (dampening 0) and, with <c>gc</c>, <c>SGD_GC</c> of the
/// Gradient-Centralization reference, which centralizes the weight-decayed gradient. State:
/// <c>momentum_buffer</c> (absent until the first step; never created when momentum is 0).
/// </remarks>
public sealed class Sgd : NormOptimizer<SgdOptions>, torch.optim.IMomentum
{
    /// <summary>Creates SGD over one group of parameters.</summary>
    /// <param name="parameters">The parameters to optimize.</param>
    /// <param name="lr">Learning rate, >= 0 (default 1e-3).</param>
    /// <param name="momentum">Momentum factor, >= 0 (default 0).</param>
    /// <param name="weight_decay">L2 coefficient λ added to the gradient, >= 0 (default 0).</param>
    /// <param name="nesterov">Nesterov momentum; needs momentum > 0 (default false).</param>
    /// <param name="gc">Gradient centralization of g + λw (default false).</param>
    /// <exception cref="ArgumentException">a negative lr, momentum or weight decay; Nesterov without momentum; no parameters.</exception>
    public Sgd(IEnumerable<Parameter> parameters, double lr = 1e-3, double momentum = 0, double weight_decay = 0, bool nesterov = false, bool gc = false)
        : this(new[] { new ParamGroup<SgdOptions>(parameters) }, lr, momentum, weight_decay, nesterov, gc) { }

    /// <summary>Creates SGD over parameter groups; options a group leaves unset take these values.</summary>
    /// <inheritdoc cref="Sgd(IEnumerable{Parameter}, double, double, double, bool, bool)"/>
    public Sgd(IEnumerable<ParamGroup> groups, double lr = 1e-3, double momentum = 0, double weight_decay = 0, bool nesterov = false, bool gc = false)
        : base(groups, new SgdOptions { LearningRate = lr, momentum = momentum, weight_decay = weight_decay, nesterov = nesterov, gc = gc }) { }

    /// <inheritdoc />
    public double Momentum { get => Defaults.momentum!.Value; set => Defaults.momentum = value; }

    /// <inheritdoc />
    protected override ParamGroup CreateGroup(Parameter[] parameters, SgdOptions options) => new MomentumParamGroup<SgdOptions>(parameters, options);

    /// <inheritdoc />
    protected override ParameterState CreateState(Parameter parameter) =>
        new(parameter, tracksStep: false, new[] { new StateKey(UpdateRules.MomentumBuffer, StateInit.Lazy) });

    /// <inheritdoc />
    protected override void Update(Parameter parameter, Tensor grad, ParameterState state, SgdOptions o)
    {
        var d = o.weight_decay!.Value != 0 ? grad.add(parameter, alpha: o.weight_decay.Value) : grad;
        if (o.gc!.Value) d = GradientCentralization.Centralize(d);
        d = UpdateRules.HeavyBall(state, d, o.momentum!.Value, o.nesterov!.Value);
        parameter.add_(d, alpha: -o.LearningRate!.Value);
    }
}
