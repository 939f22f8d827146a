using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Centering (survey §3.2.1; mean-only BN, Salimans &amp; Kingma 2016): x̂ = x − E_A[x].
/// </summary>
/// <remarks>The running estimate tracks <c>mean</c>.</remarks>
public sealed class Centering : NormOperation
{
    /// <inheritdoc />
    public override string Name => "center";

    /// <inheritdoc />
    public override bool NeedsSpread => false;

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area) => new[]
    {
        new RunningStatistic("mean", area.PopulationShape, StatisticInit.Zeros),
    };

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        if (pass.UseRunning)
            return v - area.FromPopulation(pass.Running!["mean"], v);
        var mean = area.Average(v);
        pass.Running?.Update(("mean", area.ToPopulation(mean)));
        return v - mean;
    }
}
