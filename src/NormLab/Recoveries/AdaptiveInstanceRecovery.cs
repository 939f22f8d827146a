using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Recoveries;

/// <summary>
/// Adaptive instance normalization's recovery (Huang &amp; Belongie, ICCV 2017):
/// y = σ(s)·x̂ + μ(s), with μ(s), σ(s) the per-(sample, channel) mean and standard deviation of the
/// style features s over their spatial positions.
/// </summary>
/// <remarks>
/// Semantics of xunhuang/pytorch-AdaIN (<c>calc_mean_std</c>): σ = sqrt(var_unbiased + eps), eps 1e-5;
/// the content is normalized the same way (instance area, unbiased variance). The style's spatial
/// size may differ from the content's; its batch and channel counts must match.
/// </remarks>
public sealed class AdaptiveInstanceRecovery(double eps = 1e-5) : ConditionalRecovery
{
    /// <summary>The variance offset.</summary>
    public double Eps { get; } = Checks.NonNegative(eps, nameof(eps));

    /// <inheritdoc />
    public override string Name => "adain";

    /// <inheritdoc />
    public override string ConditionDescription => "style features [N, C, *spatial] with the input's N and C and at least 2 positions";

    /// <inheritdoc />
    public override void ValidateCondition(Tensor condition, Tensor input)
    {
        if (!condition.is_floating_point())
            throw ConditionError(condition, "is not floating point");
        if (condition.dim() < 3 || input.dim() < 2 || condition.shape[0] != input.shape[0] || condition.shape[1] != input.shape[1])
            throw ConditionError(condition, $"does not match the input {Checks.Shape(input.shape)}");
        if (condition.shape.Skip(2).Aggregate(1L, (a, b) => a * b) < 2)
            throw ConditionError(condition, "has fewer than 2 positions");
    }

    /// <inheritdoc />
    public override Tensor Apply(Tensor normalized, Tensor input, Tensor condition)
    {
        var style = condition.to(normalized.dtype).reshape(condition.shape[0], condition.shape[1], -1);
        var mean = ChannelBroadcast.Over(style.mean(new long[] { 2 }), normalized);
        var std = ChannelBroadcast.Over((style.var(2, unbiased: true) + Eps).sqrt(), normalized);
        return normalized * std + mean;
    }
}
