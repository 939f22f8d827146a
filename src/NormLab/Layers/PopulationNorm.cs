using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;
using static TorchSharp.torch;

namespace NormLab.Layers;

/// <summary>The operation of a <see cref="PopulationNorm"/>.</summary>
public enum PopulationMode
{
    /// <summary>x − μ (Wiesler et al. 2014).</summary>
    Center,
    /// <summary>(x − μ)/sqrt(σ² + eps).</summary>
    Standardize,
    /// <summary>ZCA whitening of groups of d channels, (Σ + eps·I)^(−1/2)·(x − μ).</summary>
    ZcaWhiten,
}

/// <summary>
/// Population normalization of activations (survey §3; Montavon &amp; Müller 2012, Wiesler et al. 2014):
/// centering, standardizing or whitening with statistics of the whole training set rather than the
/// batch, in training and in eval mode alike.
/// </summary>
/// <remarks>
/// <see cref="Fit"/> computes the statistics exactly, by two float64 passes over the data (the mean,
/// then the biased variance or covariance over all samples and positions), into <c>running_mean</c>,
/// <c>running_var</c> or <c>running_wm</c>. They are then frozen, or, with <c>update</c>, blended with
/// each training batch's statistics (momentum, PyTorch's convention) after the forward pass. Gradients
/// never flow through the statistics.
/// </remarks>
public sealed class PopulationNorm : Normalizer
{
    /// <summary>Creates the layer with identity statistics (mean 0, variance 1, W = I) until fitted.</summary>
    /// <param name="num_channels">C.</param>
    /// <param name="mode">Center, standardize or ZCA-whiten.</param>
    /// <param name="update">Keep updating the statistics from training batches. Default false (frozen).</param>
    /// <param name="group">Channels per whitening group (ZCA only); must divide C. Default 16.</param>
    /// <param name="eps">Variance/covariance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Update momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn per-channel γ, β. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any the area accepts.</param>
    public PopulationNorm(long num_channels, PopulationMode mode = PopulationMode.Standardize, bool update = false, long group = 16,
        double eps = 1e-5, double? momentum = 0.1, bool affine = true, int[]? ranks = null)
        : base("PopulationNorm", BuildArea(num_channels, mode, group), BuildOperation(mode, eps), AffineRecovery.PerChannel(num_channels, affine),
            true, momentum, ranks)
    {
        Mode = mode;
        Update = update;
    }

    /// <summary>The operation.</summary>
    public PopulationMode Mode { get; }

    /// <summary>Whether training batches update the statistics.</summary>
    public bool Update { get; }

    /// <inheritdoc />
    protected override NormPass ChoosePass() => NormPass.Stored(Running!);

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var y = base.forward(x);
        if (training && Update)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            Operation.Normalize(Area.View(x), Area, NormPass.Batch(Running));
        }
        return y;
    }

    /// <summary>Computes the population statistics exactly from a pass over <paramref name="data"/> (two passes, float64).</summary>
    /// <exception cref="ArgumentException">an empty data set or a batch the layer does not accept.</exception>
    public PopulationNorm Fit(IEnumerable<Tensor> data)
    {
        var batches = data.ToList();
        if (batches.Count == 0) throw new ArgumentException("the data set is empty", nameof(data));
        foreach (var b in batches) Validate(b);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var area = (ReductionArea)Area;
        var axes = Mode == PopulationMode.ZcaWhiten ? area.SampleAxes : area.Reduce;
        long n = 0;
        Tensor? sum = null;
        foreach (var b in batches)
        {
            var v = area.View(b).to(ScalarType.Float64);
            var s = v.sum(axes.Dims(), keepdim: true);
            sum = sum is null ? s : sum + s;
            n += ReductionArea.Count(v, axes);
        }
        var mean = sum! / n;
        Running!["mean"].copy_(mean.reshape(-1));
        if (Mode == PopulationMode.Standardize)
        {
            Tensor? squares = null;
            foreach (var b in batches)
            {
                var s = (area.View(b).to(ScalarType.Float64) - mean).square().sum(axes.Dims(), keepdim: true);
                squares = squares is null ? s : squares + s;
            }
            Running["var"].copy_((squares! / n).reshape(-1));
        }
        else if (Mode == PopulationMode.ZcaWhiten)
        {
            Tensor? scatter = null;
            foreach (var b in batches)
            {
                var centered = area.ToMatrix(area.View(b).to(ScalarType.Float64) - mean);
                var s = centered.matmul(centered.transpose(-2, -1));
                scatter = scatter is null ? s : scatter + s;
            }
            var d = area.GroupSize;
            var sigma = scatter! / n + eye(d, dtype: ScalarType.Float64) * ((Whitening)Operation).Eps;
            Running["wm"].copy_(SymmetricEigen.InverseSqrt(sigma));
        }
        Running.BatchesTracked.fill_(1);
        return this;
    }

    private static ReductionArea BuildArea(long channels, PopulationMode mode, long group) => mode == PopulationMode.ZcaWhiten
        ? ReductionArea.BatchGroup(channels, WhiteningNorms.Groups(channels, group))
        : ReductionArea.Batch(channels);

    private static NormOperation BuildOperation(PopulationMode mode, double eps) => mode switch
    {
        PopulationMode.Center => new Centering(),
        PopulationMode.Standardize => new Standardization(eps),
        _ => new ZcaWhitening(eps),
    };
}
