using NormLab.Areas;
using NormLab.Framework;
using NormLab.Operations;
using NormLab.Recoveries;

namespace NormLab.Layers;

/// <summary>Local normalization (survey §3.1): statistics over a neighbourhood of each element.</summary>
public static class LocalNorms
{
    /// <summary>
    /// Local response normalization (Krizhevsky et al. 2012): b_c = a_c / (k + α/n·Σ_{c' in window} a_c'²)^β,
    /// over a window of n neighbouring channels. LibTorch's <c>local_response_norm</c> semantics.
    /// </summary>
    /// <param name="size">n, channels in the window, ≥ 1 (even sizes allowed). Default 5.</param>
    /// <param name="alpha">α ≥ 0. Default 1e-4.</param>
    /// <param name="beta">β ≥ 0. Default 0.75.</param>
    /// <param name="k">k ≥ 0. Default 2 (AlexNet's; PyTorch's default is 1).</param>
    /// <param name="ranks">Accepted input ranks; default any the area accepts.</param>
    public static Normalizer LocalResponseNorm(long size = 5, double alpha = 1e-4, double beta = 0.75, double k = 2, int[]? ranks = null) =>
        new("LocalResponseNorm", new ChannelWindowArea(size), new Scaling(k, alpha, beta), new IdentityRecovery(), inputRanks: ranks);

    /// <summary>
    /// Local contrast normalization (Jarrett et al. 2009) over a <paramref name="size"/>² Gaussian window
    /// across all channels: v = x − E[x], y = v / max(mean σ, σ), σ = sqrt(E[v²]). Inputs [N, C, H, W].
    /// </summary>
    /// <param name="num_channels">C.</param>
    /// <param name="size">The window's side, ≥ 1. Default 9.</param>
    /// <param name="sigma">The Gaussian's standard deviation in pixels; null means size/4.</param>
    public static Normalizer LocalContrastNorm(long num_channels, long size = 9, double? sigma = null) =>
        new("LocalContrastNorm", new SpatialWindowArea(num_channels, 1, size, WindowKernel.Gaussian, sigma), new LocalContrast(), new IdentityRecovery(),
            inputRanks: new[] { 4 });

    /// <summary>
    /// Divisive normalization in the unified form of Ren, Liao, Urtasun, Sinz &amp; Zemel (ICLR 2017):
    /// v = x − E_A[x] over the summation field A, y = γ·v / sqrt(σ² + E_B[v²]) + β over the suppression
    /// field B; both fields are per-channel spatial box windows. Inputs [N, C, H, W].
    /// </summary>
    /// <param name="num_channels">C.</param>
    /// <param name="sum_size">Side of the summation field, ≥ 1. Default 3.</param>
    /// <param name="sup_size">Side of the suppression field, ≥ 1. Default 5.</param>
    /// <param name="sigma">The smoothing σ, ≥ 0 (σ² is added to the suppression term). Default 1.</param>
    /// <param name="affine">Learn per-channel γ, β. Default true.</param>
    public static Normalizer DivisiveNorm(long num_channels, long sum_size = 3, long sup_size = 5, double sigma = 1, bool affine = true) =>
        new("DivisiveNorm", new SpatialWindowArea(num_channels, num_channels, sum_size),
            new Standardization(Checks.NonNegative(sigma, nameof(sigma)) * sigma, spreadArea: new SpatialWindowArea(num_channels, num_channels, sup_size)),
            AffineRecovery.PerChannel(num_channels, affine), inputRanks: new[] { 4 });

    /// <summary>
    /// Local context normalization (Ortiz, Robinson, Morales, et al., CVPR 2020): standardization with the
    /// mean and variance of each element's channel group over a <paramref name="window"/>² spatial window
    /// (box filters from integral images; gradients flow through the statistics), per-channel γ, β.
    /// </summary>
    /// <remarks>σ² = E_W[x²] − E_W[x]² over the window centred at the element, clipped at the borders.</remarks>
    public static Normalizer LocalContextNorm(long num_channels, long groups, long window, double eps = 1e-5, bool affine = true) =>
        new("LocalContextNorm", new SpatialWindowArea(num_channels, groups, window), new Standardization(eps, form: SpreadForm.Raw),
            AffineRecovery.PerChannel(num_channels, affine), inputRanks: new[] { 4 });
}
