using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Framework;

/// <summary>
/// A conditional normalizer: y = recovery(norm(x), x, condition), with a parameter-free inner
/// normalizer (submodule <c>param_free_norm</c>, any registry normalizer without its affine) and a
/// <see cref="ConditionalRecovery"/>.
/// </summary>
public class ConditionalNormalizer : ConditionalNormModule
{
    /// <summary>Composes the normalizer.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="paramFreeNorm">The inner normalizer (its own state appears under <c>param_free_norm.</c>).</param>
    /// <param name="recovery">The conditional recovery.</param>
    public ConditionalNormalizer(string name, nn.Module<Tensor, Tensor> paramFreeNorm, ConditionalRecovery recovery) : base(name)
    {
        State.AddChild("param_free_norm", paramFreeNorm);
        recovery.Attach(State);
        Recovery = recovery;
    }

    /// <summary>The conditional recovery.</summary>
    public ConditionalRecovery Recovery { get; }

    /// <summary>The inner normalizer.</summary>
    public nn.Module<Tensor, Tensor> Norm => (nn.Module<Tensor, Tensor>)State.Child("param_free_norm");

    /// <inheritdoc />
    /// <remarks>
    /// The dtype and empty-input rules of <see cref="Normalizer"/> apply: float16/bfloat16 inputs are
    /// computed in float32 and cast back; an input without elements gives an empty output.
    /// </remarks>
    public override Tensor forward(Tensor x, Tensor condition)
    {
        Precision.Validate(x, this, GetName());
        Recovery.ValidateCondition(condition, x);
        if (x.numel() == 0) return x.clone();
        using var scope = NewDisposeScope();
        var work = Precision.ComputeType(x, this);
        var input = work == x.dtype ? x : x.to(work);
        var normalized = Norm.call(input);
        var y = Recovery.Apply(normalized, input, condition);
        return (y.dtype == x.dtype ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
