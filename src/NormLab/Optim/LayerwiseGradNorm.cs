using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace NormLab.Optim;

/// <summary>
/// Layer-wise gradient normalization, the block-normalized gradient (Yu, Huang, Lin, Salakhutdinov and
/// Carbonell 2017, "Block-Normalized Gradient Method: An Empirical Study for Training Deep Neural
/// Network"): ĝ = g/‖g‖ per parameter tensor, then any inner optimizer's step on ĝ (SGD: w ← w − lr·ĝ).
/// A zero gradient stays zero.
/// </summary>
/// <remarks>
/// A wrapper around an inner <see cref="OptimizerHelper"/> (a NormLab optimizer or TorchSharp's own):
/// parameter groups, learning-rate schedulers, <c>state_dict</c> and <c>zero_grad</c> are the inner
/// optimizer's. Like <c>clip_grad_norm_</c>, <see cref="step"/> normalizes <c>p.grad</c> in place before the
/// inner step. <c>save_state_dict</c> records this wrapper's type name, not the inner's: load a saved
/// state only into a wrapper around the same kind of inner optimizer.
/// </remarks>
public sealed class LayerwiseGradNorm : NormOptimizer
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The optimizer that steps on the normalized gradients.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is null.</exception>
    public LayerwiseGradNorm(OptimizerHelper inner)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _parameter_groups = inner.ParamGroups.Cast<ParamGroup>().ToList();
    }

    /// <summary>The optimizer that takes the step.</summary>
    public OptimizerHelper Inner { get; }

    /// <summary>ĝ = g/‖g‖ over all elements of one tensor, or g itself when ‖g‖ = 0.</summary>
    public static Tensor Normalize(Tensor grad)
    {
        var norm = UpdateRules.Norm(grad);
        return grad / where(norm.gt(0), norm, ones_like(norm));
    }

    /// <summary>Divides, in place, the gradient of every parameter that has one by its norm (zero gradients stay zero).</summary>
    public static void normalize_(IEnumerable<Parameter> parameters)
    {
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            using var scope = NewDisposeScope();
            if (p.grad is not { } g) continue;
            var norm = UpdateRules.Norm(g);
            g.div_(where(norm.gt(0), norm, ones_like(norm)));
        }
    }

    /// <summary>Normalizes every gradient in place, then runs the inner optimizer's step.</summary>
    /// <param name="closure">Optional: re-evaluates the model and returns the loss (run with gradients enabled).</param>
    /// <returns>The closure's loss, or null.</returns>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
            using (enable_grad()) loss = closure();
        normalize_(Inner.parameters());
        Inner.step();
        return loss!;
    }

    /// <inheritdoc />
    public override IEnumerable<ILearningRateController> ParamGroups => Inner.ParamGroups;

    /// <inheritdoc />
    public override IEnumerable<Parameter> parameters() => Inner.parameters();

    /// <inheritdoc />
    public override void zero_grad() => Inner.zero_grad();

    /// <inheritdoc />
    public override void add_param_group(ParamGroup param_group)
    {
        Inner.add_param_group(param_group);
        _parameter_groups = Inner.ParamGroups.Cast<ParamGroup>().ToList();
    }

    /// <inheritdoc />
    public override StateDictionary state_dict() => Inner.state_dict();

    /// <inheritdoc />
    public override void load_state_dict(StateDictionary state_dict) => Inner.load_state_dict(state_dict);

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">the inner optimizer is not a NormLab optimizer.</exception>
    public override ParameterState StateOf(Parameter parameter) => Inner is NormOptimizer n ? n.StateOf(parameter)
        : throw new NotSupportedException($"named state needs a NormLab inner optimizer, got {Inner.GetType().Name}");

    /// <summary>Moves the inner optimizer's state to <paramref name="device"/>.</summary>
    public new void to(Device device) => Inner.to(device);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Inner.Dispose();
    }
}
