using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>
/// Vector-conditioned (FiLM-style) dynamic recovery (Perez, Strub, de Vries, Dumoulin &amp; Courville,
/// AAAI 2018): y = x̂·(1 + Δγ(z)) + β(z), with Δγ and β linear maps of the conditioning vector z [N, D].
/// </summary>
/// <remarks>
/// FiLM's γ(z)·x̂ + β(z) parametrized around the identity (γ = 1 + Δγ) so a freshly built layer starts
/// close to plain normalization, as SPADE does. State: submodules <c>gamma</c> and <c>beta</c>, each a
/// Linear(D → C).
/// </remarks>
public sealed class FilmRecovery : ConditionalRecovery
{
    /// <summary>Creates the recovery.</summary>
    /// <param name="dim">D, the conditioning vector's size, ≥ 1.</param>
    /// <param name="channels">C ≥ 1.</param>
    public FilmRecovery(long dim, long channels)
    {
        Dim = Checks.AtLeast(dim, 1, "dim");
        Channels = Checks.AtLeast(channels, 1, "num_channels");
    }

    /// <summary>D.</summary>
    public long Dim { get; }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <inheritdoc />
    public override string Name => "film";

    /// <inheritdoc />
    public override string ConditionDescription => $"conditioning vectors [N, {Dim}]";

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        state.AddChild("gamma", nn.Linear(Dim, Channels));
        state.AddChild("beta", nn.Linear(Dim, Channels));
    }

    /// <inheritdoc />
    public override void ValidateCondition(Tensor condition, Tensor input)
    {
        if (!condition.is_floating_point())
            throw ConditionError(condition, "is not floating point");
        if (condition.dim() != 2 || input.dim() < 2 || condition.shape[0] != input.shape[0] || condition.shape[1] != Dim)
            throw ConditionError(condition, $"does not match the input {Checks.Shape(input.shape)}");
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input, Tensor condition)
    {
        var z = condition.to(normalized.dtype);
        var gamma = ChannelBroadcast.Over(((nn.Module<Tensor, Tensor>)State.Child("gamma")).call(z), normalized);
        var beta = ChannelBroadcast.Over(((nn.Module<Tensor, Tensor>)State.Child("beta")).call(z), normalized);
        return normalized * (1 + gamma) + beta;
    }
}
