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
    public override Tensor forward(Tensor x, Tensor condition)
    {
        Recovery.ValidateCondition(condition, x);
        using var scope = NewDisposeScope();
        var normalized = Norm.call(x);
        return Recovery.Apply(normalized, x, condition).MoveToOuterDisposeScope();
    }
}
