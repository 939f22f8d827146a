using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// A weight-normalization method: how the effective weight is computed from the parameters and
/// buffers it keeps on the module. <see cref="Reparametrization"/> does the rest (registration,
/// recomputation on every forward, removal), the same way for every method.
/// </summary>
/// <remarks>
/// Apply moves the module's parameter <c>name</c> to <c>{name}_{RawSuffix}</c> (the same parameter
/// object, so an optimizer built earlier still updates it), calls <see cref="Initialize"/> to register
/// the method's own state, and from then on installs <see cref="Compute"/>'s result as the module's
/// weight before every forward. Weights are viewed as rows: dim 0 (output channels) indexes rows and
/// the other dims are flattened into each row, as in every reference implementation.
/// </remarks>
public abstract class WeightNormalizer
{
    /// <summary>Creates a method with its registry name.</summary>
    protected WeightNormalizer(string name) => Name = name;

    /// <summary>The registry name (<c>wn</c>, <c>spectral</c>, ...).</summary>
    public string Name { get; }

    /// <summary>
    /// The suffix under which the original (raw) weight is kept: <c>v</c> for weight normalization
    /// (PyTorch's <c>weight_v</c>), <c>orig</c> otherwise (PyTorch's <c>weight_orig</c> for spectral norm).
    /// </summary>
    public virtual string RawSuffix => "orig";

    /// <summary>Checks that the method accepts a weight of this shape, before the module is changed.</summary>
    /// <exception cref="ArgumentException">the shape is not supported; the message names the constraint.</exception>
    protected internal virtual void Validate(nn.Module module, long[] shape) { }

    /// <summary>Registers the method's own parameters and buffers; the raw weight is already registered.</summary>
    protected internal virtual void Initialize(WeightState state, Tensor weight) { }

    /// <summary>
    /// The effective weight, a new tensor of the raw weight's shape, differentiable with respect to the
    /// method's parameters. <paramref name="training"/> is the module's mode during forward and false
    /// when the weight is folded back by Remove.
    /// </summary>
    protected internal abstract Tensor Compute(WeightState state, bool training);
}
