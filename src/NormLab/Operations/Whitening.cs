using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>What a whitening layer's running estimate tracks for eval mode.</summary>
public enum WhiteningTrack
{
    /// <summary>The whitening matrix itself, <c>running_wm</c> (IterNorm's and DBN's default).</summary>
    Matrix,
    /// <summary>The covariance, <c>running_cov</c>; the matrix is built from it at eval (DBN's dbnSigma).</summary>
    Covariance,
}

/// <summary>
/// Whitening operations (survey §3.2.2): x̂ = W·(x − μ), with Σ = (1/m)·Xc·Xcᵀ + eps·I the biased
/// covariance of the d channels of each group over the area's samples, and W a whitening matrix of Σ.
/// </summary>
/// <remarks>
/// Works on any <see cref="ReductionArea"/> with sample axes: batch-group(C/d) gives batch whitening
/// (statistics over N·H·W), group(C/d) gives instance whitening (per sample, over H·W). Groups are
/// contiguous channels, as in the reference implementations. eps is added to Σ before the
/// matrix function (and, for IterNorm, before trace normalization). Float16/bfloat16/float32
/// statistics and decompositions run in float64 and the output keeps the input dtype. The running
/// estimate tracks <c>mean</c> [C] and either the matrix <c>wm</c> or the covariance <c>cov</c>
/// [G, d, d], both batch means for instance whitening.
/// </remarks>
public abstract class Whitening : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="eps">Added to the covariance's diagonal; must be ≥ 0.</param>
    /// <param name="track">Track the whitening matrix (default) or the covariance.</param>
    protected Whitening(double eps, WhiteningTrack track)
    {
        Eps = Checks.NonNegative(eps, nameof(eps));
        Track = track;
    }

    /// <summary>The covariance offset.</summary>
    public double Eps { get; }

    /// <summary>What the running estimate tracks.</summary>
    public WhiteningTrack Track { get; }

    private string MatrixStat => Track == WhiteningTrack.Matrix ? "wm" : "cov";

    /// <inheritdoc />
    public override void CheckArea(NormArea area)
    {
        if (area is not ReductionArea r || r.SampleAxes == ViewAxes.None || r is Areas.LayerArea)
            throw new ArgumentException($"{Name} whitening needs a channel-group area with sample axes (batch-group or group), got '{area.Name}'", nameof(area));
    }

    /// <inheritdoc />
    public override long ValuesPerStatistic(NormArea area, Tensor v) => ((ReductionArea)area).MatrixSampleCount(v);

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area)
    {
        var r = (ReductionArea)area;
        return new[]
        {
            new RunningStatistic("mean", new[] { r.Channels }, StatisticInit.Zeros),
            new RunningStatistic(MatrixStat, new[] { r.Groups, r.GroupSize, r.GroupSize }, StatisticInit.Identity),
        };
    }

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        var r = (ReductionArea)area;
        var x = r.ToMatrix(v);
        var work = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float64);
        Tensor centered, w;
        if (pass.UseRunning)
        {
            var running = pass.Running!;
            var mean = r.MatrixFromPopulation(running["mean"].to(work.dtype).reshape(r.Groups, r.GroupSize, 1), v);
            centered = work - mean;
            var stored = r.MatrixFromPopulation(running[MatrixStat].to(work.dtype), v);
            w = Track == WhiteningTrack.Matrix ? stored : Matrix(stored);
            return r.FromMatrix(w.matmul(centered).to(x.dtype), v);
        }
        var batchMean = r.MatrixMean(work);
        centered = work - batchMean;
        var sigma = Covariance(r, centered);
        if (!sigma.isfinite().all().item<bool>())
            return r.FromMatrix(full_like(x, double.NaN), v);
        w = Matrix(sigma);
        pass.Running?.Update(
            ("mean", r.MatrixToPopulation(batchMean).reshape(-1)),
            (MatrixStat, r.MatrixToPopulation(Track == WhiteningTrack.Matrix ? w : sigma)));
        return r.FromMatrix(Apply(w, sigma, centered).to(x.dtype), v);
    }

    /// <summary>Σ = (1/m)·Xc·Xcᵀ + eps·I for centered matrices [P, d, m], the second moment taken by the area.</summary>
    protected Tensor Covariance(ReductionArea area, Tensor centered) =>
        area.MatrixSecondMoment(centered) + eye(centered.shape[1], dtype: centered.dtype) * Eps;

    /// <summary>The whitening matrix W of covariances [P, d, d] (differentiable).</summary>
    protected abstract Tensor Matrix(Tensor sigma);

    /// <summary><see cref="Matrix"/> for the fused kernels, which compute Σ and apply W themselves.</summary>
    internal Tensor WhiteningMatrix(Tensor sigma) => Matrix(sigma);

    /// <summary>Applies the batch whitening: W·Xc by default.</summary>
    protected virtual Tensor Apply(Tensor w, Tensor sigma, Tensor centered) => w.matmul(centered);
}
