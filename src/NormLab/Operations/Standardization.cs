using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>How a standardization measures the spread around the mean.</summary>
public enum SpreadForm
{
    /// <summary>
    /// E_B[(x − E_A[x])²]: each element is centered by its own mean, then the squares are averaged.
    /// For reduction areas this is the usual (biased) variance; for windows it is Jarrett's and
    /// Ren's divisive form.
    /// </summary>
    Centered,
    /// <summary>
    /// E_A[x²] − E_A[x]²: the spread around the mean at the output position, as local context
    /// normalization computes it from window sums of x and x² (clamped at 0).
    /// </summary>
    Raw,
}

/// <summary>
/// Standardization (survey §3.2.1): x̂ = (x − μ) / sqrt(σ² + eps), with μ = E_A[x] over the area A and
/// σ² = E_B[(x − μ)²] over the spread area B (B = A unless given: divisive normalization's
/// summation and suppression fields, Ren et al. 2017).
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
    /// <param name="spreadArea">The area B the variance is averaged over; null (default) means the normalizer's area.</param>
    /// <param name="form">How the spread is measured; see <see cref="SpreadForm"/>. Default centered.</param>
    /// <exception cref="ArgumentException">eps negative or not finite.</exception>
    public Standardization(double eps = 1e-5, bool unbiasedVariance = false, NormArea? spreadArea = null, SpreadForm form = SpreadForm.Centered)
    {
        Eps = Checks.NonNegative(eps, nameof(eps));
        UnbiasedVariance = unbiasedVariance;
        SpreadArea = spreadArea;
        Form = form;
    }

    /// <summary>The variance offset.</summary>
    public double Eps { get; }

    /// <summary>Whether the normalizing variance is the unbiased one.</summary>
    public bool UnbiasedVariance { get; }

    /// <summary>The area the variance is averaged over, or null for the normalizer's own.</summary>
    public NormArea? SpreadArea { get; }

    /// <summary>How the spread is measured.</summary>
    public SpreadForm Form { get; }

    /// <inheritdoc />
    public override string Name => "standardize";

    /// <inheritdoc />
    public override void CheckArea(NormArea area)
    {
        if (SpreadArea is not null && (UnbiasedVariance || Form == SpreadForm.Raw))
            throw new ArgumentException("a separate spread area takes the centered, biased spread", nameof(area));
    }

    /// <inheritdoc />
    public override void Validate(Tensor x) => SpreadArea?.Validate(x);

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area)
    {
        if (SpreadArea is not null)
            throw new NotSupportedException("standardization with a separate spread area has no population statistics");
        return new[]
        {
            new RunningStatistic("mean", area.PopulationShape, StatisticInit.Zeros),
            new RunningStatistic("var", area.PopulationShape, StatisticInit.Ones),
        };
    }

    /// <summary>
    /// E_A[x²] − E_A[x]², computed on x minus its overall mean and, for float32 and lower, in float64: the
    /// difference cancels catastrophically when the mean is large against the spread (the result does not
    /// depend on the subtracted constant, so the detached shift leaves values and gradients unchanged).
    /// </summary>
    private static Tensor RawSpread(Tensor v, NormArea area)
    {
        var wide = v.dtype == ScalarType.Float64 ? v : v.to(ScalarType.Float64);
        var shifted = wide - wide.mean().detach();
        var spread = (area.Average(shifted.square()) - area.Average(shifted).square()).clamp_min(0);
        return spread.to(v.dtype);
    }

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
        var biased = Form == SpreadForm.Raw
            ? RawSpread(v, area)
            : (SpreadArea ?? area).Average(centered.square());
        if (pass.Running is null && !UnbiasedVariance)
            return centered * (biased + Eps).rsqrt();
        long n = area.Count(v);
        double correction = n > 1 ? n / (n - 1.0) : double.PositiveInfinity;
        pass.Running?.Update(("mean", area.ToPopulation(batchMean)), ("var", area.ToPopulation(biased * correction)));
        var normalizing = UnbiasedVariance ? biased * correction : biased;
        return centered * (normalizing + Eps).rsqrt();
    }
}
