using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>A statistic Switchable Whitening can mix.</summary>
public enum SwitchCandidate
{
    /// <summary>Batch whitening: the full covariance of each group over (N, H, W).</summary>
    BW,
    /// <summary>Instance whitening: the full covariance of each group over (H, W), per sample.</summary>
    IW,
    /// <summary>Batch normalization: the diagonal of BW's covariance.</summary>
    BN,
    /// <summary>Instance normalization: the diagonal of IW's covariance.</summary>
    IN,
    /// <summary>Layer normalization: mean and unbiased variance over (C, H, W), times I.</summary>
    LN,
}

/// <summary>
/// Switchable Whitening (Pan, Zhan, Shi, Tang &amp; Luo, ICCV 2019): μ = Σ_k w_k·μ_k,
/// Σ = Σ_k w'_k·Σ_k + eps·I over the candidates (BW, IW, BN, IN, LN), x̂ = Σ^(−1/2)·(x − μ) by the
/// trace-normalized Newton iteration with T steps.
/// </summary>
/// <remarks>
/// Semantics of XingangPan/Switchable-Whitening <c>models/ops/switchwhiten.py</c>: contiguous groups
/// of d channels; BW and IW covariances are biased; LN's variance is unbiased; the logits are
/// <c>sw_mean_weight</c> and <c>sw_var_weight</c> (init 1; shared with <c>tie_weight</c>); eps 1e-5 is
/// added after mixing; the running estimate tracks BW's <c>mean</c> and <c>cov</c> (init 0, as the
/// reference), used in eval mode while IW, IN and LN come from the input. Momentum follows PyTorch's
/// convention: the reference's 0.99 is 0.01 here. The reference's sw_type 2, 3 and 5 are the candidate
/// sets bw+iw, bw+iw+ln and bw+iw+bn+in+ln; for sw_type 5 the reference weights BN's and IN's
/// variances with BW's and IW's logits (w₀, w₁), where NormLab gives every candidate its own weight.
/// Works on the instance-whitening area group(C/d); BW statistics are pooled from the per-sample ones.
/// </remarks>
public sealed class SwitchableWhitening : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="candidates">The statistics to mix, at least one, no repeats.</param>
    /// <param name="iterations">T, Newton iterations, ≥ 1. Default 5.</param>
    /// <param name="eps">Covariance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="tieWeight">Use the mean logits for the covariances too. Default false.</param>
    public SwitchableWhitening(IReadOnlyList<SwitchCandidate> candidates, long iterations = 5, double eps = 1e-5, bool tieWeight = false)
    {
        if (candidates.Count == 0 || candidates.Distinct().Count() != candidates.Count)
            throw new ArgumentException($"candidates ({string.Join("+", candidates)}) must be a non-empty set without repeats", nameof(candidates));
        Candidates = candidates.ToArray();
        Iterations = Checks.AtLeast(iterations, 1, "T");
        Eps = Checks.NonNegative(eps, nameof(eps));
        TieWeight = tieWeight;
    }

    /// <summary>The candidates, in logit order.</summary>
    public IReadOnlyList<SwitchCandidate> Candidates { get; }

    /// <summary>T.</summary>
    public long Iterations { get; }

    /// <summary>The covariance offset.</summary>
    public double Eps { get; }

    /// <summary>Whether means and covariances share logits.</summary>
    public bool TieWeight { get; }

    private bool UsesBatch => Candidates.Contains(SwitchCandidate.BW) || Candidates.Contains(SwitchCandidate.BN);

    /// <inheritdoc />
    public override string Name => "switchable-whitening";

    /// <inheritdoc />
    public override void CheckArea(NormArea area)
    {
        if (area is not ReductionArea { Reduce: ViewAxes.Channel | ViewAxes.Space } || area is Areas.LayerArea)
            throw new ArgumentException($"switchable whitening works on the instance-whitening area group(C/d), got '{area.Name}'", nameof(area));
    }

    /// <inheritdoc />
    public override long ValuesPerStatistic(NormArea area, Tensor v) => v.shape[3];

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area)
    {
        if (!UsesBatch)
            throw new ArgumentException("switchable whitening without a batch candidate (bw, bn) has no running statistics; use track_running_stats=false");
        var r = (ReductionArea)area;
        return new[]
        {
            new RunningStatistic("mean", new[] { r.Channels }, StatisticInit.Zeros),
            new RunningStatistic("cov", new[] { r.Groups, r.GroupSize, r.GroupSize }, StatisticInit.Zeros),
        };
    }

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        state.AddParameter("sw_mean_weight", ones(Candidates.Count));
        if (!TieWeight) state.AddParameter("sw_var_weight", ones(Candidates.Count));
    }

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        var r = (ReductionArea)area;
        long n = v.shape[0], d = r.GroupSize;
        var x = r.ToMatrix(v);
        var work = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float64);
        var meanIn = work.mean(new long[] { -1 }, keepdim: true);
        var centeredIn = work - meanIn;
        var covIn = centeredIn.matmul(centeredIn.transpose(-2, -1)) / work.shape[2];

        Tensor? meanBw = null, covBw = null;
        if (UsesBatch)
        {
            if (pass.UseRunning)
            {
                meanBw = r.MatrixFromPopulation(pass.Running!["mean"].to(work.dtype).reshape(r.Groups, d, 1), v);
                covBw = r.MatrixFromPopulation(pass.Running["cov"].to(work.dtype), v);
            }
            else
            {
                var perGroupMean = r.MatrixToPopulation(meanIn);
                var second = r.MatrixToPopulation(covIn + meanIn.matmul(meanIn.transpose(-2, -1)));
                var perGroupCov = second - perGroupMean.matmul(perGroupMean.transpose(-2, -1));
                pass.Running?.Update(("mean", perGroupMean.reshape(-1)), ("cov", perGroupCov));
                meanBw = r.MatrixFromPopulation(perGroupMean, v);
                covBw = r.MatrixFromPopulation(perGroupCov, v);
            }
        }

        var means = new List<Tensor>();
        var covariances = new List<Tensor>();
        var identity = eye(d, dtype: work.dtype);
        foreach (var c in Candidates)
        {
            switch (c)
            {
                case SwitchCandidate.BW: means.Add(meanBw!); covariances.Add(covBw!); break;
                case SwitchCandidate.IW: means.Add(meanIn); covariances.Add(covIn); break;
                case SwitchCandidate.BN: means.Add(meanBw!); covariances.Add(covBw!.diagonal(0, -2, -1).diag_embed()); break;
                case SwitchCandidate.IN: means.Add(meanIn); covariances.Add(covIn.diagonal(0, -2, -1).diag_embed()); break;
                case SwitchCandidate.LN:
                    var perSample = work.reshape(n, -1);
                    var meanLn = perSample.mean(new long[] { 1 }).view(n, 1, 1, 1).expand(n, r.Groups, 1, 1).reshape(-1, 1, 1);
                    var varLn = perSample.var(1, unbiased: true).view(n, 1, 1, 1).expand(n, r.Groups, 1, 1).reshape(-1, 1, 1);
                    means.Add(meanLn);
                    covariances.Add(varLn * identity);
                    break;
            }
        }
        var meanWeights = State.Parameter("sw_mean_weight").softmax(0).to(work.dtype);
        var covWeights = (TieWeight ? State.Parameter("sw_mean_weight") : State.Parameter("sw_var_weight")).softmax(0).to(work.dtype);
        Tensor mean = means[0] * meanWeights[0], cov = covariances[0] * covWeights[0];
        for (int k = 1; k < means.Count; k++)
        {
            mean = mean + means[k] * meanWeights[k];
            cov = cov + covariances[k] * covWeights[k];
        }
        cov = cov + identity * Eps;
        var w = NewtonSchulz.InverseSqrt(cov, Iterations);
        return r.FromMatrix(w.matmul(work - mean).to(x.dtype), v);
    }
}
