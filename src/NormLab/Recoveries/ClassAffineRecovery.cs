using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>
/// Conditional batch normalization's recovery (de Vries et al. 2017; Dumoulin, Shlens &amp; Kudlur 2017):
/// y = γ[c]·x̂ + β[c], one γ, β row per class c.
/// </summary>
/// <remarks>
/// State: <c>weight</c> [K, C] (init 1) and <c>bias</c> [K, C] (init 0). The condition is the class ids,
/// int64 [N], each in [0, K). Ids are checked before the lookup.
/// </remarks>
public sealed class ClassAffineRecovery : ConditionalRecovery
{
    /// <summary>Creates the recovery.</summary>
    /// <param name="classes">K ≥ 1.</param>
    /// <param name="channels">C ≥ 1.</param>
    public ClassAffineRecovery(long classes, long channels)
    {
        Classes = Checks.AtLeast(classes, 1, "classes");
        Channels = Checks.AtLeast(channels, 1, "num_channels");
    }

    /// <summary>K.</summary>
    public long Classes { get; }

    /// <summary>C.</summary>
    public long Channels { get; }

    /// <inheritdoc />
    public override string Name => "cbn";

    /// <inheritdoc />
    public override string ConditionDescription => $"class ids int64 [N] in [0, {Classes})";

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        state.AddParameter("weight", ones(Classes, Channels));
        state.AddParameter("bias", zeros(Classes, Channels));
    }

    /// <inheritdoc />
    public override void ValidateCondition(Tensor condition, Tensor input)
    {
        if (condition.dtype != ScalarType.Int64)
            throw ConditionError(condition, "is not int64");
        if (condition.dim() != 1 || input.dim() < 2 || condition.shape[0] != input.shape[0])
            throw ConditionError(condition, $"does not match the input {Checks.Shape(input.shape)}");
        if (condition.numel() == 0) return;
        long lo = condition.min().item<long>(), hi = condition.max().item<long>();
        if (lo < 0 || hi >= Classes)
            throw new ArgumentException($"class id {(lo < 0 ? lo : hi)} is out of range; classes ({Classes}) allows ids 0 to {Classes - 1}", "condition");
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input, Tensor condition)
    {
        var gamma = ChannelBroadcast.Over(State.Parameter("weight").index_select(0, condition), normalized);
        var beta = ChannelBroadcast.Over(State.Parameter("bias").index_select(0, condition), normalized);
        return normalized * gamma + beta;
    }
}
