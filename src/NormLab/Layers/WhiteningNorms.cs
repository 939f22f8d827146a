using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;

namespace NormLab.Layers;

/// <summary>The whitening methods of a <see cref="WhiteningNorms"/> layer.</summary>
public enum WhiteningMethod
{
    /// <summary>PCA whitening, Λ^(−1/2)·Uᵀ.</summary>
    Pca,
    /// <summary>ZCA whitening (Decorrelated BN), U·Λ^(−1/2)·Uᵀ.</summary>
    Zca,
    /// <summary>Cholesky whitening, L⁻¹.</summary>
    Cholesky,
    /// <summary>IterNorm, T Newton iterations.</summary>
    IterNorm,
}

/// <summary>
/// Batch and instance whitening layers (survey §3.2.2) as presets of <see cref="Normalizer"/>: the
/// batch-group area (batch whitening) or the group area (instance whitening) with a whitening
/// operation and a per-channel γ, β.
/// </summary>
public static class WhiteningNorms
{
    /// <summary>
    /// Batch whitening of contiguous groups of <paramref name="group"/> channels, statistics over (N, *spatial).
    /// </summary>
    /// <param name="method">PCA, ZCA, Cholesky or IterNorm.</param>
    /// <param name="num_channels">C, a multiple of group.</param>
    /// <param name="group">d, the channels per whitening group, ≥ 1.</param>
    /// <param name="eps">Covariance offset; null means the method's reference default (1e-3, IterNorm 1e-5).</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn per-channel γ and β. Default true.</param>
    /// <param name="track">Track the whitening matrix (running_wm, default) or the covariance (running_cov).</param>
    /// <param name="T">IterNorm's iterations, ≥ 1. Default 5.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    /// <param name="sync">Synchronize the mean and covariance across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    /// <exception cref="ArgumentException">group not dividing num_channels, or an invalid value.</exception>
    public static Normalizer BatchWhitening(WhiteningMethod method, long num_channels, long group = 16, double? eps = null, double? momentum = 0.1,
        bool affine = true, WhiteningTrack track = WhiteningTrack.Matrix, long T = 5, bool track_running_stats = true, int[]? ranks = null, bool sync = false) =>
        new($"BatchWhitening({method})", SynchronizedArea.Maybe(ReductionArea.BatchGroup(num_channels, Groups(num_channels, group)), sync), Operation(method, eps, track, T),
            AffineRecovery.PerChannel(num_channels, affine), track_running_stats, momentum, ranks);

    /// <summary>
    /// Instance whitening: each sample's groups of <paramref name="group"/> channels whitened over its spatial positions.
    /// </summary>
    /// <remarks>Like instance normalization, no running statistics by default: eval mode whitens each sample with its own statistics.</remarks>
    public static Normalizer InstanceWhitening(WhiteningMethod method, long num_channels, long group = 16, double? eps = null, double? momentum = 0.1,
        bool affine = true, WhiteningTrack track = WhiteningTrack.Matrix, long T = 5, bool track_running_stats = false, int[]? ranks = null) =>
        new($"InstanceWhitening({method})", ReductionArea.Group(num_channels, Groups(num_channels, group)), Operation(method, eps, track, T),
            AffineRecovery.PerChannel(num_channels, affine), track_running_stats, momentum, ranks ?? new[] { 3, 4, 5 });

    /// <summary>IterNorm (Huang et al. 2019): batch whitening by T Newton iterations; see <see cref="BatchWhitening"/>.</summary>
    public static Normalizer IterNorm(long num_channels, long group = 16, long T = 5, double eps = 1e-5, double? momentum = 0.1, bool affine = true) =>
        BatchWhitening(WhiteningMethod.IterNorm, num_channels, group, eps, momentum, affine, T: T);

    internal static long Groups(long channels, long group) => channels / Checks.Divides(group, nameof(group), channels);

    internal static Recovery Affine(long channels, bool affine) =>
        affine ? new AffineRecovery(new[] { channels }, AffineLayout.PerChannel) : new IdentityRecovery();

    private static Whitening Operation(WhiteningMethod method, double? eps, WhiteningTrack track, long t) => method switch
    {
        WhiteningMethod.Pca => new PcaWhitening(eps ?? 1e-3, track),
        WhiteningMethod.Zca => new ZcaWhitening(eps ?? 1e-3, track),
        WhiteningMethod.Cholesky => new CholeskyWhitening(eps ?? 1e-3, track),
        _ => new IterativeWhitening(t, eps ?? 1e-5, track),
    };
}
