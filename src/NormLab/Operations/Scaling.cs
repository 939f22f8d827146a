using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Divisive scaling by a power of the mean square (survey §3.2.1): x̂ = x / (k + α·E_A[x²])^β.
/// RMSNorm (Zhang &amp; Sennrich 2019) is k = eps, α = 1, β = ½ on a layer area; local response
/// normalization (Krizhevsky et al. 2012) is the same operation on a sliding channel window.
/// </summary>
/// <remarks>
/// RMS semantics match PyTorch's <c>nn.RMSNorm</c>: eps inside the square root, and a null offset
/// means the input dtype's machine epsilon (<c>torch.finfo(x.dtype).eps</c>). LRN semantics match
/// LibTorch's <c>local_response_norm</c> when the area is <see cref="Areas.ChannelWindowArea"/>
/// (α multiplies the window mean, i.e. α/n times the window sum). The running estimate tracks
/// <c>mean_square</c>, E[x²].
/// </remarks>
public sealed class Scaling : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="offset">k, added to α·E[x²]; null (RMS default) means the dtype's epsilon; otherwise ≥ 0.</param>
    /// <param name="alpha">α, the scale of the mean square, ≥ 0. Default 1.</param>
    /// <param name="beta">β, the exponent, ≥ 0. Default ½ (root mean square).</param>
    /// <exception cref="ArgumentException">a negative or non-finite value.</exception>
    public Scaling(double? offset = null, double alpha = 1, double beta = 0.5)
    {
        if (offset is { } k) Checks.NonNegative(k, "eps");
        Offset = offset;
        Alpha = Checks.NonNegative(alpha, nameof(alpha));
        Beta = Checks.NonNegative(beta, nameof(beta));
    }

    /// <summary>k, or null for the dtype's machine epsilon.</summary>
    public double? Offset { get; }

    /// <summary>α.</summary>
    public double Alpha { get; }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc />
    public override string Name => "scale";

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
        Tensor meanSquare;
        if (pass.UseRunning)
            meanSquare = area.FromPopulation(pass.Running!["mean_square"], v);
        else
        {
            meanSquare = area.Average(v.square());
            pass.Running?.Update(("mean_square", area.ToPopulation(meanSquare)));
        }
        var denominator = meanSquare * Alpha + (Offset ?? finfo(v.dtype).eps);
        return Beta == 0.5 ? v * denominator.rsqrt() : v / denominator.pow(Beta);
    }
}
