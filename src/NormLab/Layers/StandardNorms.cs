using NormLab.Areas;
using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;

namespace NormLab.Layers;

/// <summary>
/// The standard normalizers as presets of <see cref="Normalizer"/>, with PyTorch's semantics, defaults
/// and state-dict names (<c>weight</c>, <c>bias</c>, <c>running_mean</c>, <c>running_var</c>,
/// <c>num_batches_tracked</c>) wherever PyTorch has the layer.
/// </summary>
public static class StandardNorms
{
    /// <summary>
    /// Batch normalization (Ioffe &amp; Szegedy 2015): y = γ·(x − μ_B)/sqrt(σ²_B + eps) + β, statistics per
    /// channel over (N, *spatial). Accepts [N, C] or [N, C, L].
    /// </summary>
    /// <remarks>
    /// Normalizes with the biased batch variance; <c>running_var</c> tracks the unbiased one; momentum
    /// null gives a cumulative average (all as PyTorch's <c>nn.BatchNorm1d</c>).
    /// </remarks>
    /// <param name="num_features">C, at least 1.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn γ and β. Default true.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <exception cref="ArgumentException">an invalid argument, named in the message.</exception>
    public static Normalizer BatchNorm1d(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true) =>
        BatchNorm("BatchNorm1d", new[] { 2, 3 }, num_features, eps, momentum, affine, track_running_stats);

    /// <summary>Batch normalization over [N, C, H, W]; see <see cref="BatchNorm1d"/>.</summary>
    public static Normalizer BatchNorm2d(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true) =>
        BatchNorm("BatchNorm2d", new[] { 4 }, num_features, eps, momentum, affine, track_running_stats);

    /// <summary>Batch normalization over [N, C, D, H, W]; see <see cref="BatchNorm1d"/>.</summary>
    public static Normalizer BatchNorm3d(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true) =>
        BatchNorm("BatchNorm3d", new[] { 5 }, num_features, eps, momentum, affine, track_running_stats);

    /// <summary>Batch normalization for inputs of the given ranks; see <see cref="BatchNorm1d"/>.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="ranks">Accepted input ranks.</param>
    /// <param name="num_features">C, at least 1.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn γ and β. Default true.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <param name="sync">Synchronize the batch statistics across the processes of a data-parallel job (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer BatchNorm(string name, int[] ranks, long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true,
        bool sync = false) =>
        new(name, SynchronizedArea.Maybe(ReductionArea.Batch(num_features), sync), new Standardization(eps), AffineRecovery.PerChannel(num_features, affine),
            track_running_stats, momentum, ranks);

    /// <summary>
    /// Synchronized batch normalization (PyTorch's <c>nn.SyncBatchNorm</c>): batch normalization whose
    /// statistics cover the global batch of every process of a data-parallel job; inputs [N, C, *].
    /// In a single process it is exactly <see cref="BatchNorm1d"/>/<see cref="BatchNorm2d"/>; see <see cref="SynchronizedArea"/>.
    /// </summary>
    public static Normalizer SyncBatchNorm(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true) =>
        BatchNorm("SyncBatchNorm", new[] { 2, 3, 4, 5 }, num_features, eps, momentum, affine, track_running_stats, sync: true);

    /// <summary>
    /// Layer normalization (Ba et al. 2016): per sample over the trailing dims
    /// <paramref name="normalized_shape"/>, y = (x − μ)/sqrt(σ² + eps)·γ + β with an elementwise γ, β.
    /// </summary>
    /// <remarks>Biased variance, eps inside the square root, as PyTorch's <c>nn.LayerNorm</c>.</remarks>
    /// <param name="normalized_shape">The trailing shape, non-empty with positive sizes.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="elementwise_affine">Learn γ and β of shape normalized_shape. Default true.</param>
    /// <param name="bias">Learn β (with elementwise_affine). Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any with the trailing shape.</param>
    public static Normalizer LayerNorm(long[] normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true, int[]? ranks = null) =>
        new("LayerNorm", new LayerArea(normalized_shape), new Standardization(eps),
            elementwise_affine ? new AffineRecovery(normalized_shape, AffineLayout.Elementwise, shift: bias) : new IdentityRecovery(),
            inputRanks: ranks);

    /// <summary>
    /// Instance normalization (Ulyanov et al. 2016): per (sample, channel) over the spatial dims.
    /// </summary>
    /// <remarks>
    /// Biased variance for normalizing. With <paramref name="track_running_stats"/>, running_mean and
    /// running_var average the per-instance means and unbiased variances over the batch and are used in
    /// eval mode (PyTorch's <c>nn.InstanceNorm2d</c>). PyTorch's defaults: no affine, no running stats.
    /// </remarks>
    /// <param name="num_features">C, at least 1.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn per-channel γ and β. Default false.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default false.</param>
    /// <param name="ranks">Accepted input ranks; default 3 to 5.</param>
    public static Normalizer InstanceNorm(long num_features, double eps = 1e-5, double? momentum = 0.1, bool affine = false, bool track_running_stats = false, int[]? ranks = null) =>
        new("InstanceNorm", ReductionArea.Instance(num_features), new Standardization(eps), AffineRecovery.PerChannel(num_features, affine),
            track_running_stats, momentum, ranks ?? new[] { 3, 4, 5 });

    /// <summary>
    /// Group normalization (Wu &amp; He 2018): per sample over each of <paramref name="num_groups"/>
    /// groups of contiguous channels and the spatial dims, with a per-channel γ (init 1) and β (init 0).
    /// </summary>
    /// <remarks>Biased variance, as PyTorch's <c>nn.GroupNorm</c>. GN(1)'s statistics equal LN's over (C, *spatial); GN(C)'s equal IN's.</remarks>
    /// <param name="num_groups">G, dividing num_channels.</param>
    /// <param name="num_channels">C, at least 1.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="affine">Learn per-channel γ and β. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    public static Normalizer GroupNorm(long num_groups, long num_channels, double eps = 1e-5, bool affine = true, int[]? ranks = null) =>
        new("GroupNorm", ReductionArea.Group(num_channels, num_groups), new Standardization(eps), AffineRecovery.PerChannel(num_channels, affine),
            inputRanks: ranks);

    /// <summary>
    /// Batch group normalization (Zhou et al. 2020): batch statistics over (N, C/G, *spatial) for each of
    /// G groups of contiguous channels, with a per-channel γ and β.
    /// </summary>
    /// <remarks>Biased variance for normalizing; running_mean and running_var (shape [G]) track the mean and unbiased variance.</remarks>
    /// <param name="num_groups">G, dividing num_channels.</param>
    /// <param name="num_channels">C, at least 1.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn per-channel γ and β. Default true.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    /// <param name="sync">Synchronize the batch statistics across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer BatchGroupNorm(long num_groups, long num_channels, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool track_running_stats = true, int[]? ranks = null,
        bool sync = false) =>
        new("BatchGroupNorm", SynchronizedArea.Maybe(ReductionArea.BatchGroup(num_channels, num_groups), sync), new Standardization(eps), AffineRecovery.PerChannel(num_channels, affine),
            track_running_stats, momentum, ranks);

    /// <summary>
    /// Positional normalization (Li et al. 2019, PONO): per sample and position, over the channels:
    /// y = (x − μ_C)/sqrt(σ²_C + eps).
    /// </summary>
    /// <remarks>
    /// The reference code (Boyiliee/Positional-Normalization, <c>pono_ms_torch.py</c>) uses the
    /// <b>unbiased</b> variance over C (<c>x.var(dim=1)</c>), so that is the default; set
    /// <paramref name="unbiased"/> false for the biased one. The optional affine is per channel.
    /// </remarks>
    /// <exception cref="ArgumentException">num_channels below 2 with the unbiased variance.</exception>
    public static Normalizer PositionalNorm(long num_channels, double eps = 1e-5, bool affine = false, bool unbiased = true, int[]? ranks = null)
    {
        if (unbiased && num_channels < 2)
            throw new ArgumentException($"num_channels ({num_channels}) must be at least 2 for the unbiased variance over channels", nameof(num_channels));
        return new("PositionalNorm", ReductionArea.Positional(num_channels), new Standardization(eps, unbiased), AffineRecovery.PerChannel(num_channels, affine),
            inputRanks: ranks);
    }

    /// <summary>
    /// RMS normalization (Zhang &amp; Sennrich 2019): y = x / sqrt(mean(x²) + eps) · γ over the trailing dims,
    /// with an elementwise γ and no β, as PyTorch's <c>nn.RMSNorm</c>.
    /// </summary>
    /// <param name="normalized_shape">The trailing shape.</param>
    /// <param name="eps">Offset inside the square root; null (default) means the input dtype's epsilon.</param>
    /// <param name="elementwise_affine">Learn γ. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any with the trailing shape.</param>
    public static Normalizer RMSNorm(long[] normalized_shape, double? eps = null, bool elementwise_affine = true, int[]? ranks = null) =>
        new("RMSNorm", new LayerArea(normalized_shape), new Scaling(eps),
            elementwise_affine ? new AffineRecovery(normalized_shape, AffineLayout.Elementwise, shift: false) : new IdentityRecovery(),
            inputRanks: ranks);

    /// <summary>
    /// Mean-only batch normalization (Salimans &amp; Kingma 2016): y = x − μ_B + β, per channel over
    /// (N, *spatial). Meant to pair with weight normalization, which supplies the scale.
    /// </summary>
    /// <remarks>running_mean tracks the batch mean; β is the only parameter (<c>bias</c>).</remarks>
    /// <param name="num_features">C, at least 1.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn β. Default true.</param>
    /// <param name="track_running_stats">Keep running statistics for eval mode. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    /// <param name="sync">Synchronize the batch mean across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer MeanOnlyBatchNorm(long num_features, double? momentum = 0.1, bool affine = true, bool track_running_stats = true, int[]? ranks = null,
        bool sync = false) =>
        new("MeanOnlyBatchNorm", SynchronizedArea.Maybe(ReductionArea.Batch(num_features), sync), new Centering(),
            affine ? new AffineRecovery(new[] { num_features }, AffineLayout.PerChannel, scale: false) : new IdentityRecovery(),
            track_running_stats, momentum, ranks);

}
