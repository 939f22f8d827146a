using NormLab.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>
/// Base of every NormLab optimizer: a TorchSharp <see cref="OptimizerHelper"/>, so parameter groups,
/// learning-rate schedulers (<c>torch.optim.lr_scheduler.*</c>), <c>state_dict</c>,
/// <c>save_state_dict</c>/<c>load_state_dict</c> and <c>zero_grad</c> work as for TorchSharp's own
/// optimizers. Adds named access to each parameter's state (<see cref="StateOf"/>), with PyTorch's keys.
/// </summary>
public abstract class NormOptimizer : OptimizerHelper
{
    /// <summary>The state this optimizer keeps for <paramref name="parameter"/>.</summary>
    /// <exception cref="ArgumentException">the parameter is not managed by this optimizer.</exception>
    public abstract ParameterState StateOf(Parameter parameter);
}

/// <summary>
/// A NormLab optimizer with options of type <typeparamref name="TOptions"/>: validates and fills
/// per-group options from the defaults, creates each parameter's state, and runs the per-parameter
/// update under <c>no_grad</c>, one dispose scope per parameter so temporaries never accumulate.
/// </summary>
/// <typeparam name="TOptions">The hyper-parameter class.</typeparam>
public abstract class NormOptimizer<TOptions> : NormOptimizer where TOptions : OptimOptions, new()
{
    /// <summary>Validates <paramref name="defaults"/> and adds every group.</summary>
    /// <exception cref="ArgumentException">an option out of range, a group with options of another type, a parameter in two groups, or no parameters at all.</exception>
    protected NormOptimizer(IEnumerable<ParamGroup> groups, TOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        defaults.InitialLearningRate = defaults.LearningRate ?? throw new ArgumentException("lr must be set", "lr");
        defaults.Validate();
        _defaults = defaults;
        _parameter_groups = new List<ParamGroup>();
        foreach (var g in groups) add_param_group(g);
        if (!_parameter_groups.SelectMany(g => g.Parameters).Any())
            throw new ArgumentException($"{GetType().Name} got an empty parameter list");
    }

    /// <summary>The optimizer-wide defaults that groups inherit.</summary>
    public TOptions Defaults => (TOptions)_defaults;

    /// <summary>Adds a parameter group; options it leaves unset come from <see cref="Defaults"/>.</summary>
    /// <exception cref="ArgumentException">options of another type, an option out of range, or a parameter already in a group.</exception>
    public override void add_param_group(ParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        var options = param_group.Options switch
        {
            null => new TOptions(),
            TOptions o => o,
            var other => throw new ArgumentException($"{GetType().Name} needs parameter groups with {typeof(TOptions).Name}, got {other.GetType().Name}"),
        };
        options.FillFrom(Defaults);
        options.InitialLearningRate = options.LearningRate!.Value;
        options.Validate();
        var parameters = (param_group.Parameters ?? throw new ArgumentException("a parameter group needs parameters")).ToArray();
        foreach (var p in parameters)
            if (_state.ContainsKey(p.Handle))
                throw new ArgumentException("some parameters appear in more than one parameter group");
        _parameter_groups.Add(CreateGroup(parameters, options));
        foreach (var p in parameters) _state[p.Handle] = CreateState(p);
    }

    /// <inheritdoc />
    public override ParameterState StateOf(Parameter parameter) =>
        _state.TryGetValue(parameter.Handle, out var s) ? (ParameterState)s
            : throw new ArgumentException($"the parameter of shape [{string.Join(", ", parameter.shape)}] is not managed by this {GetType().Name}");

    /// <summary>Applies one update to every parameter that has a gradient; parameters without one are skipped.</summary>
    /// <param name="closure">Optional: re-evaluates the model and returns the loss (run with gradients enabled).</param>
    /// <returns>The closure's loss, or null.</returns>
    /// <exception cref="ArgumentException">a group option set out of range since the group was added.</exception>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
            using (enable_grad()) loss = closure();
        using (no_grad())
        {
            foreach (var group in _parameter_groups)
            {
                var options = (TOptions)group.Options;
                options.Validate();
                foreach (var p in group.Parameters)
                {
                    using var scope = NewDisposeScope();
                    var grad = p.grad;
                    if (grad is null) continue;
                    CheckGradient(p, grad);
                    Update(p, grad, StateOf(p), options);
                }
            }
        }
        return loss!;
    }

    /// <summary>Wraps a validated group in this optimizer's group class (which may expose momentum or betas to schedulers).</summary>
    /// <summary>A gradient must match its parameter's shape and dtype (LibTorch would broadcast or promote, or fail with a native trace).</summary>
    private static void CheckGradient(Parameter p, Tensor grad)
    {
        if (!grad.shape.SequenceEqual(p.shape))
            throw new ArgumentException($"the gradient of a parameter of shape {Checks.Shape(p.shape)} has shape {Checks.Shape(grad.shape)}; it must have the parameter's shape", "grad");
        if (grad.dtype != p.dtype)
            throw new ArgumentException($"the gradient of a {p.dtype} parameter of shape {Checks.Shape(p.shape)} is {grad.dtype}; it must have the parameter's dtype", "grad");
    }

    protected virtual ParamGroup CreateGroup(Parameter[] parameters, TOptions options) => new ParamGroup<TOptions>(parameters, options);

    /// <summary>Creates the initial state of one parameter.</summary>
    protected abstract ParameterState CreateState(Parameter parameter);

    /// <summary>Updates one parameter in place from its gradient (never modify <paramref name="grad"/>).</summary>
    protected abstract void Update(Parameter parameter, Tensor grad, ParameterState state, TOptions options);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var (_, s) in _state) ((ParameterState)s).Dispose();
        _state.Clear();
    }
}

/// <summary>A parameter group whose momentum schedulers can cycle (<c>CyclicLR</c>, <c>OneCycleLR</c>).</summary>
public sealed class MomentumParamGroup<TOptions> : ParamGroup<TOptions>, torch.optim.IMomentum where TOptions : SgdOptions
{
    /// <summary>Creates the group.</summary>
    public MomentumParamGroup(IEnumerable<Parameter> parameters, TOptions options) : base(parameters, options) { }

    /// <inheritdoc />
    public double Momentum { get => Options.momentum!.Value; set => Options.momentum = value; }
}

/// <summary>A parameter group whose betas schedulers can cycle (<c>OneCycleLR</c>).</summary>
public sealed class BetasParamGroup<TOptions> : ParamGroup<TOptions>, torch.optim.IBetas where TOptions : AdamOptions
{
    /// <summary>Creates the group.</summary>
    public BetasParamGroup(IEnumerable<Parameter> parameters, TOptions options) : base(parameters, options) { }

    /// <inheritdoc />
    public (double, double) Betas
    {
        get => (Options.beta1!.Value, Options.beta2!.Value);
        set { Options.beta1 = value.Item1; Options.beta2 = value.Item2; }
    }
}
