using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Switchable Normalization (Luo, Ren, Peng, Zhang &amp; Li, ICLR 2019): standardization with a
/// softmax-weighted mixture of IN, LN and BN moments, μ = Σ_k w_k·μ_k, σ² = Σ_k w'_k·σ²_k,
/// x̂ = (x − μ)/sqrt(σ² + eps).
/// </summary>
/// <remarks>
/// Semantics of switchablenorms/Switchable-Normalization <c>devkit/ops/switchable_norm.py</c>. The input
/// is viewed as (N, C, H·W). IN moments use the <b>unbiased</b> variance (<c>var(-1)</c>). LN and BN are
/// derived from them: μ_ln = mean_c μ_in, σ²_ln = mean_c(σ²_in + μ²_in) − μ²_ln, and the same over n for
/// BN. Means and variances have separate logits, <c>mean_weight</c> and <c>var_weight</c> (init 1).
/// The running estimate stores the derived BN moments (init 0, as the reference); momentum follows
/// PyTorch's convention (the reference's 0.9 is 0.1 here). For [N, C] inputs the reference's
/// SwitchNorm1d applies: LN and BN only, each with the unbiased variance. Eval mode uses the running
/// BN moments and the input's own IN and LN moments.
/// </remarks>
public sealed class SwitchableStandardization : NormOperation
{
    /// <summary>Creates the operation.</summary>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="usingBatchNorm">Include the BN candidate. Default true.</param>
    /// <param name="spatial">Inputs have spatial dims (IN, LN, BN); false for [N, C] inputs (LN, BN). Default true.</param>
    public SwitchableStandardization(double eps = 1e-5, bool usingBatchNorm = true, bool spatial = true)
    {
        Eps = Checks.NonNegative(eps, nameof(eps));
        UsingBatchNorm = usingBatchNorm;
        Spatial = spatial;
    }

    /// <summary>Whether inputs have spatial dims (then IN is a candidate).</summary>
    public bool Spatial { get; }

    /// <summary>The variance offset.</summary>
    public double Eps { get; }

    /// <summary>Whether BN is a candidate.</summary>
    public bool UsingBatchNorm { get; }

    /// <inheritdoc />
    public override string Name => "switchable";

    /// <inheritdoc />
    public override void CheckArea(NormArea area)
    {
        if (area is not ReductionArea { Reduce: ViewAxes.Channel | ViewAxes.Space } r || r.Groups != r.Channels)
            throw new ArgumentException($"switchable normalization derives its moments from the instance area, got '{area.Name}'", nameof(area));
    }

    /// <inheritdoc />
    public override long ValuesPerStatistic(NormArea area, Tensor v) => Spatial ? v.shape[3] : ((ReductionArea)area).BatchCount(v);

    /// <inheritdoc />
    public override IReadOnlyList<RunningStatistic> RunningStatistics(NormArea area)
    {
        if (!UsingBatchNorm)
            throw new ArgumentException("switchable normalization without the BN candidate has no running statistics; use track_running_stats=false");
        var c = ((ReductionArea)area).Channels;
        return new[] { new RunningStatistic("mean", new[] { c }, StatisticInit.Zeros), new RunningStatistic("var", new[] { c }, StatisticInit.Zeros) };
    }

    /// <summary>The number of candidates: IN, LN (spatial inputs only IN), and BN when used.</summary>
    public int Candidates => (Spatial ? 2 : 1) + (UsingBatchNorm ? 1 : 0);

    /// <inheritdoc />
    protected override void Register(ModuleState state)
    {
        state.AddParameter("mean_weight", ones(Candidates));
        state.AddParameter("var_weight", ones(Candidates));
    }

    /// <inheritdoc />
    public override Tensor Normalize(Tensor v, NormArea area, NormPass pass)
    {
        bool spatial = Spatial;
        var x = v.reshape(v.shape[0], v.shape[1], v.shape[3]);
        var means = new List<Tensor>();
        var variances = new List<Tensor>();
        Tensor perSampleMean, perSampleSecond;
        if (spatial)
        {
            var meanIn = x.mean(new long[] { -1 }, keepdim: true);
            var varIn = x.var(-1, unbiased: true, keepdim: true);
            means.Add(meanIn);
            variances.Add(varIn);
            perSampleMean = meanIn;
            perSampleSecond = varIn + meanIn.square();
            var meanLn = meanIn.mean(new long[] { 1 }, keepdim: true);
            means.Add(meanLn);
            variances.Add(perSampleSecond.mean(new long[] { 1 }, keepdim: true) - meanLn.square());
        }
        else
        {
            means.Add(x.mean(new long[] { 1 }, keepdim: true));
            variances.Add(x.var(1, unbiased: true, keepdim: true));
            perSampleMean = x;
            perSampleSecond = x.square();
        }
        if (UsingBatchNorm)
        {
            Tensor meanBn, varBn;
            if (pass.UseRunning)
            {
                meanBn = pass.Running!["mean"].view(1, -1, 1);
                varBn = pass.Running["var"].view(1, -1, 1);
            }
            else
            {
                var r = (ReductionArea)area;
                meanBn = r.BatchMean(perSampleMean);
                varBn = spatial
                    ? r.BatchMean(perSampleSecond) - meanBn.square()
                    : r.BatchVariance(x);
                pass.Running?.Update(("mean", meanBn.reshape(-1)), ("var", varBn.reshape(-1)));
            }
            means.Add(meanBn);
            variances.Add(varBn);
        }
        var mean = Mix(State.Parameter("mean_weight"), means);
        var variance = Mix(State.Parameter("var_weight"), variances);
        return ((x - mean) * (variance + Eps).rsqrt()).reshape(v.shape);
    }

    private static Tensor Mix(Tensor logits, List<Tensor> candidates)
    {
        var w = logits.softmax(0);
        var mixed = candidates[0] * w[0];
        for (int k = 1; k < candidates.Count; k++) mixed = mixed + candidates[k] * w[k];
        return mixed;
    }
}
