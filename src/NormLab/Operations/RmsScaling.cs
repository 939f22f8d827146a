using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Scaling by the root mean square (survey §3.2.1; RMSNorm, Zhang &amp; Sennrich 2019):
/// x̂ = x / sqrt(E_A[x²] + eps).
/// </summary>
/// <remarks>
/// Matches PyTorch's <c>nn.RMSNorm</c>: eps is inside the square root, and a null eps means the input
/// dtype's machine epsilon (<c>torch.finfo(x.dtype).eps</c>). The running estimate tracks
/// <c>mean_square</c>, E[x²].
/// </remarks>
public sealed class RmsScaling : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="eps">Added to the mean square; null (the default) means the dtype's epsilon; otherwise ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">eps negative or not finite.</exception>
    public RmsScaling(double? eps = null)
    {
        if (eps is { } e) Checks.NonNegative(e, nameof(eps));
        Eps = eps;
    }

    /// <summary>The offset, or null for the dtype's machine epsilon.</summary>
    public double? Eps { get; }

    /// <inheritdoc />
    public override string Name => "rms";

    /// <inheritdoc />
    public override bool NeedsSpread => false;

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area) => new[]
    {
        new RunningStatistic("mean_square", area.PopulationShape, StatisticInit.Ones),
    };

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        double eps = Eps ?? finfo(v.dtype).eps;
        if (pass.UseRunning)
            return v * (area.FromPopulation(pass.Running!["mean_square"], v) + eps).rsqrt();
        var meanSquare = area.Average(v.square());
        pass.Running?.Update(("mean_square", area.ToPopulation(meanSquare)));
        return v * (meanSquare + eps).rsqrt();
    }
}
