using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Local contrast normalization (Jarrett, Kavukcuoglu, Ranzato &amp; LeCun, ICCV 2009): subtractive, then
/// divisive. v = x − E_A[x]; σ = sqrt(E_A[v²]); y = v / max(c, σ), with c the mean of σ over the
/// positions of each sample.
/// </summary>
/// <remarks>
/// The paper's form with a Gaussian window over the channels and a spatial neighbourhood
/// (<see cref="Areas.SpatialWindowArea"/> with one group). The divisor also never falls below
/// <see cref="Floor"/> (default 1e-6), so a constant input gives 0 rather than 0/0. No running statistics.
/// </remarks>
public sealed class LocalContrast : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="floor">The smallest divisor, &gt; 0. Default 1e-6.</param>
    public LocalContrast(double floor = 1e-6) => Floor = Checks.Positive(floor, "eps");

    /// <summary>The smallest divisor.</summary>
    public double Floor { get; }

    /// <inheritdoc />
    public override string Name => "local-contrast";

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area) =>
        throw new NotSupportedException("local contrast normalization has no population statistics");

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        var centered = v - area.Average(v);
        var sigma = area.Average(centered.square()).sqrt();
        var spatial = Enumerable.Range(3, (int)v.dim() - 3).Select(d => (long)d).ToArray();
        var c = sigma.mean(spatial, keepdim: true);
        return centered / sigma.maximum(c).clamp_min(Floor);
    }
}
