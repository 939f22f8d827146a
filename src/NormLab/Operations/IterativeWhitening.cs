using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Operations;

/// <summary>
/// Iterative normalization, IterNorm (Huang, Zhou, Zhu, Liu &amp; Shao, CVPR 2019): Newton–Schulz
/// iterations toward Σ^(−1/2). Σ_N = Σ / tr(Σ); P₀ = I; P_{k+1} = 1.5·P_k − 0.5·P_k³·Σ_N;
/// W = P_T / √tr(Σ).
/// </summary>
/// <remarks>
/// Semantics of huangleiBuaa/IterNorm-pytorch <c>iterative_normalization.py</c>: contiguous channel
/// groups, biased covariance with eps (default 1e-5) added <b>before</b> trace normalization,
/// running_wm averages W. With small T the output is deliberately not fully white on ill-conditioned
/// data; the whitening error decreases monotonically with T.
/// </remarks>
public sealed class IterativeWhitening : Whitening
{
    /// <summary>Creates the operation.</summary>
    /// <param name="iterations">T, the number of Newton iterations, ≥ 1. Default 5.</param>
    /// <param name="eps">Covariance offset, ≥ 0. Default 1e-5.</param>
    /// <param name="track">Track the whitening matrix (default) or the covariance.</param>
    public IterativeWhitening(long iterations = 5, double eps = 1e-5, WhiteningTrack track = WhiteningTrack.Matrix)
        : base(eps, track) => Iterations = Checks.AtLeast(iterations, 1, "T");

    /// <summary>T.</summary>
    public long Iterations { get; }

    /// <inheritdoc />
    public override string Name => "itn";

    /// <inheritdoc />
    protected override Tensor Matrix(Tensor sigma) => NewtonSchulz.InverseSqrt(sigma, Iterations);
}

/// <summary>The trace-normalized Newton–Schulz iteration for Σ^(−1/2), shared by IterNorm and Switchable Whitening.</summary>
internal static class NewtonSchulz
{
    public static Tensor InverseSqrt(Tensor sigma, long iterations)
    {
        var trace = sigma.diagonal(0, -2, -1).sum(new long[] { -1 }, keepdim: true).unsqueeze(-1);
        var normalized = sigma / trace;
        var p = eye(sigma.shape[^1], dtype: sigma.dtype).expand_as(sigma);
        for (long k = 0; k < iterations; k++)
            p = 1.5 * p - 0.5 * p.matmul(p).matmul(p).matmul(normalized);
        return p / trace.sqrt();
    }
}
