using static TorchSharp.torch;

namespace NormLab.Weights;

/// <summary>
/// The per-row output scale of the Huang et al. reference layers (<c>WNScale</c> in CWN, ONI): a constant
/// by default (<c>adjustScale=False</c>), or a learned parameter <c>{name}_g</c> of shape [n, 1, ...]
/// initialized to the constant.
/// </summary>
internal readonly record struct RowScale(double Value, bool Learn)
{
    /// <summary>Registers the learned scale when there is one.</summary>
    public void Initialize(WeightState state, Tensor weight)
    {
        if (Learn) state.AddParameter("g", full(WeightRows.RowShape(weight.shape), Value, weight.dtype, weight.device));
    }

    /// <summary>The scaled weight.</summary>
    public Tensor Apply(WeightState state, Tensor w) => Learn ? w * state.Parameter("g") : Value == 1 ? w : w * Value;
}
