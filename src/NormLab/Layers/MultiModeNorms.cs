using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;

namespace NormLab.Layers;

/// <summary>Multi-mode normalizers (survey §3.4): switchable normalization, switchable whitening and mode normalization.</summary>
public static class MultiModeNorms
{
    /// <summary>
    /// Switchable Normalization (Luo et al. 2019) for [N, C, *spatial] (IN, LN, BN) or [N, C] (LN, BN)
    /// inputs, with a per-channel γ, β; see <see cref="SwitchableStandardization"/>.
    /// </summary>
    /// <param name="num_features">C.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum (PyTorch convention), or null for cumulative. Default 0.1.</param>
    /// <param name="using_bn">Include BN. Default true.</param>
    /// <param name="affine">Learn γ, β. Default true.</param>
    /// <param name="rank">Input rank: 2 for SwitchNorm1d's semantics, 3–5 for spatial inputs. Default 4.</param>
    /// <param name="sync">Synchronize the BN candidate's moments across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer SwitchNorm(long num_features, double eps = 1e-5, double? momentum = 0.1, bool using_bn = true, bool affine = true, int rank = 4, bool sync = false)
    {
        if (rank < 2 || rank > 5)
            throw new ArgumentException($"rank ({rank}) must be between 2 and 5", nameof(rank));
        return new("SwitchNorm", SynchronizedArea.Maybe(ReductionArea.Instance(num_features), sync), new SwitchableStandardization(eps, using_bn, spatial: rank > 2),
            AffineRecovery.PerChannel(num_features, affine), using_bn, momentum, new[] { rank });
    }

    /// <summary>
    /// Switchable Whitening (Pan et al. 2019) of contiguous groups of <paramref name="group"/> channels;
    /// see <see cref="SwitchableWhitening"/>. Default candidates BW + IW.
    /// </summary>
    /// <param name="num_channels">C, a multiple of group.</param>
    /// <param name="candidates">The statistics to mix; default BW + IW.</param>
    /// <param name="group">d, channels per whitening group, dividing C. Default 16.</param>
    /// <param name="T">Newton iterations, ≥ 1. Default 5.</param>
    /// <param name="eps">Covariance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum (PyTorch convention; the reference's 0.99 is 0.01). Default 0.01.</param>
    /// <param name="affine">Learn per-channel γ, β. Default true.</param>
    /// <param name="tie_weight">Share the mean logits for the covariances. Default false.</param>
    /// <param name="ranks">Accepted input ranks; default 3 to 5.</param>
    /// <param name="sync">Synchronize the BW/BN candidates' pooled moments across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer SwitchWhiten(long num_channels, IReadOnlyList<SwitchCandidate>? candidates = null, long group = 16, long T = 5,
        double eps = 1e-5, double? momentum = 0.01, bool affine = true, bool tie_weight = false, int[]? ranks = null, bool sync = false)
    {
        var set = candidates ?? new[] { SwitchCandidate.BW, SwitchCandidate.IW };
        bool batch = set.Contains(SwitchCandidate.BW) || set.Contains(SwitchCandidate.BN);
        return new("SwitchWhiten", SynchronizedArea.Maybe(ReductionArea.Group(num_channels, WhiteningNorms.Groups(num_channels, group)), sync),
            new SwitchableWhitening(set, T, eps, tie_weight), AffineRecovery.PerChannel(num_channels, affine), batch, momentum, ranks ?? new[] { 3, 4, 5 });
    }

    /// <summary>Mode Normalization (Deecke et al. 2019) with K modes and a per-channel γ, β; see <see cref="ModeStandardization"/>.</summary>
    /// <param name="num_channels">C, at least 1.</param>
    /// <param name="modes">K ≥ 1. Default 2.</param>
    /// <param name="eps">Variance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="momentum">Running-average momentum in [0, 1], or null for a cumulative average. Default 0.1.</param>
    /// <param name="affine">Learn per-channel γ, β. Default true.</param>
    /// <param name="ranks">Accepted input ranks; default any ≥ 2.</param>
    /// <param name="sync">Synchronize the mode-weighted moments across processes (<see cref="SynchronizedArea"/>). Default false.</param>
    public static Normalizer ModeNorm(long num_channels, long modes = 2, double eps = 1e-5, double? momentum = 0.1, bool affine = true, int[]? ranks = null, bool sync = false) =>
        new("ModeNorm", SynchronizedArea.Maybe(ReductionArea.Batch(num_channels), sync), new ModeStandardization(num_channels, modes, eps),
            AffineRecovery.PerChannel(num_channels, affine), true, momentum, ranks);
}
