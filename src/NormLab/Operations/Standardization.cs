using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Standardization (survey §3.2.1): x̂ = (x − μ) / sqrt(σ² + eps), with μ = E_A[x] and σ² = E_A[(x − μ)²].
/// </summary>
/// <remarks>
/// The default normalizes with the biased variance, as PyTorch's batch_norm, layer_norm, group_norm and
/// instance_norm do. <c>unbiased_variance</c> uses σ²·n/(n−1) instead (PONO's reference code, Switchable
/// Normalization's IN branch). The running estimate tracks <c>mean</c> and the <b>unbiased</b> variance
/// <c>var</c> (PyTorch #19902), both averaged over the batch axis when the area does not reduce it
/// (instance normalization).
/// </remarks>
public sealed class Standardization : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="eps">Added to the variance inside the square root; must be ≥ 0. Default 1e-5.</param>
    /// <param name="unbiasedVariance">Normalize with the unbiased variance. Default false.</param>
    /// <exception cref="ArgumentOutOfRangeException">eps negative or not finite.</exception>
    public Standardization(double eps = 1e-5, bool unbiasedVariance = false)
    {
        Eps = Checks.NonNegative(eps, nameof(eps));
        UnbiasedVariance = unbiasedVariance;
    }

    /// <summary>The variance offset.</summary>
    public double Eps { get; }

    /// <summary>Whether the normalizing variance is the unbiased one.</summary>
    public bool UnbiasedVariance { get; }

    /// <inheritdoc />
    public override string Name => "standardize";

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area) => new[]
    {
        new RunningStatistic("mean", area.PopulationShape, StatisticInit.Zeros),
        new RunningStatistic("var", area.PopulationShape, StatisticInit.Ones),
    };

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        if (pass.UseRunning)
        {
            var running = pass.Running!;
            var mean = area.FromPopulation(running["mean"], v);
            var variance = area.FromPopulation(running["var"], v);
            return (v - mean) * (variance + Eps).rsqrt();
        }
        var batchMean = area.Average(v);
        var centered = v - batchMean;
        var biased = area.Average(centered.square());
        long n = area.Count(v);
        double correction = n > 1 ? n / (n - 1.0) : double.PositiveInfinity;
        pass.Running?.Update(("mean", area.ToPopulation(batchMean)), ("var", area.ToPopulation(biased * correction)));
        var normalizing = UnbiasedVariance ? biased * correction : biased;
        return centered * (normalizing + Eps).rsqrt();
    }
}
