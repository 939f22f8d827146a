using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// A module that holds one parameter <c>weight</c> and outputs it, ignoring its input. Reparametrized,
/// it outputs the effective weight, so a weight normalizer can be run, inspected and differentiated on a
/// bare weight (<c>normlab apply --weight-norm</c> uses it).
/// </summary>
public sealed class WeightHolder : nn.Module<Tensor, Tensor>
{
    // Named like the state-dict key: TorchSharp's generic to() sets the field of that name.
    private Parameter weight;

    /// <summary>Holds a copy of <paramref name="weight"/> as the trainable parameter <c>weight</c>.</summary>
    public WeightHolder(Tensor weight) : base(nameof(WeightHolder))
    {
        this.weight = new Parameter(weight.detach().clone(), requires_grad: true);
        this.weight.DetachFromDisposeScope();
        register_parameter("weight", this.weight);
    }

    /// <summary>The current weight (the effective weight of the last forward once reparametrized).</summary>
    public Tensor Weight => weight;

    /// <summary>Returns the weight; <paramref name="input"/> is ignored.</summary>
    public override Tensor forward(Tensor input) => weight.alias();

    /// <summary>Runs the module (and its reparametrization hooks) and returns the weight.</summary>
    public Tensor call() => call(empty(0));

    /// <inheritdoc />
    protected override void RegisterComponents() { }
}
