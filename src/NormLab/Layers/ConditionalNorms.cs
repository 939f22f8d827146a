using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Layers;

/// <summary>Conditional and attentive recovery (survey §3.3) as presets.</summary>
public static class ConditionalNorms
{
    /// <summary>
    /// AdaIN (Huang &amp; Belongie 2017): y = σ(s)·(x − μ(x))/σ(x) + μ(s), per (sample, channel) over the
    /// spatial positions, σ = sqrt(var_unbiased + eps) as the reference code. Call with (content, style).
    /// </summary>
    public static ConditionalNormalizer AdaIN(long num_channels, double eps = 1e-5, int[]? ranks = null) =>
        new("AdaIN", new Normalizer("InstanceNorm", ReductionArea.Instance(num_channels), new Standardization(eps, unbiasedVariance: true),
            new IdentityRecovery(), inputRanks: ranks ?? new[] { 3, 4, 5 }), new AdaptiveInstanceRecovery(eps));

    /// <summary>SPADE (Park et al. 2019) over a parameter-free normalizer; call with (x, segmentation map).</summary>
    public static ConditionalNormalizer Spade(nn.Module<Tensor, Tensor> paramFreeNorm, long num_channels, long label_nc, long hidden = 128, long kernel = 3) =>
        new("SPADE", paramFreeNorm, new SpadeRecovery(label_nc, num_channels, hidden, kernel));

    /// <summary>Conditional batch normalization with per-class γ, β; call with (x, class ids).</summary>
    public static ConditionalNormalizer ConditionalBatchNorm(nn.Module<Tensor, Tensor> paramFreeNorm, long num_channels, long classes) =>
        new("ConditionalBatchNorm", paramFreeNorm, new ClassAffineRecovery(classes, num_channels));

    /// <summary>FiLM-style dynamic normalization; call with (x, conditioning vectors [N, D]).</summary>
    public static ConditionalNormalizer Film(nn.Module<Tensor, Tensor> paramFreeNorm, long num_channels, long dim) =>
        new("FiLMNorm", paramFreeNorm, new FilmRecovery(dim, num_channels));

    /// <summary>
    /// Attentive normalization (Li, Sun &amp; Wu 2020): batch standardization and a mixture of K affine
    /// transforms weighted by attention from the pooled input; see <see cref="AttentiveRecovery"/>.
    /// </summary>
    /// <param name="num_channels">C, at least 1.</param>
    /// <param name="K">Affine components, at least 1. Default 5.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    /// <param name="sync">Synchronize the batch statistics (of the input and of the attention logits) across processes. Default false.</param>
    public static Normalizer AttentiveNorm(long num_channels, long K = 5, double eps = 1e-5, double? momentum = 0.1, bool track_running_stats = true, int[]? ranks = null,
        bool sync = false) =>
        new("AttentiveNorm", SynchronizedArea.Maybe(ReductionArea.Batch(num_channels), sync), new Standardization(eps), new AttentiveRecovery(num_channels, K, sync),
            track_running_stats, momentum, ranks);
}
