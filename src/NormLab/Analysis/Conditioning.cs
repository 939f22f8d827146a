using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>
/// The eigenvalues of a symmetric positive semi-definite matrix (a second-moment or covariance
/// matrix, or a Hessian), in decreasing order, and the quantities of the survey's least-squares
/// example derived from them.
/// </summary>
/// <remarks>
/// For a linear model with squared loss, H = E[xxᵀ] (⊗ I): gradient descent converges for learning
/// rates below 2/λmax, the best fixed rate is about 1/λmax, and the iteration count grows with
/// κ = λmax/λmin.
/// </remarks>
public sealed record Spectrum(double[] Eigenvalues)
{
    /// <summary>λmax.</summary>
    public double LambdaMax => Eigenvalues[0];

    /// <summary>λmin.</summary>
    public double LambdaMin => Eigenvalues[^1];

    /// <summary>κ = λmax/λmin (infinity for a singular matrix).</summary>
    public double ConditionNumber => LambdaMin > 0 ? LambdaMax / LambdaMin : double.PositiveInfinity;

    /// <summary>The optimal gradient-descent step for the quadratic, 1/λmax.</summary>
    public double OptimalLearningRate => 1 / LambdaMax;

    /// <summary>The divergence bound 2/λmax: larger steps diverge.</summary>
    public double MaxStableLearningRate => 2 / LambdaMax;
}

/// <summary>Second moments, covariances and their spectra (survey §5, conditioning analysis).</summary>
public static class Conditioning
{
    /// <summary>E[xxᵀ] of the rows of <paramref name="x"/> [n, d], in float64.</summary>
    /// <exception cref="ArgumentException">x not 2-D or with fewer than 2 rows.</exception>
    public static Tensor SecondMoment(Tensor x)
    {
        var rows = Rows(x);
        return rows.t().matmul(rows) / rows.shape[0];
    }

    /// <summary>The biased covariance E[(x − μ)(x − μ)ᵀ] of the rows of <paramref name="x"/> [n, d], in float64.</summary>
    public static Tensor Covariance(Tensor x)
    {
        var rows = Rows(x);
        var centered = rows - rows.mean(new long[] { 0 }, keepdim: true);
        return centered.t().matmul(centered) / rows.shape[0];
    }

    /// <summary>The eigenvalues of a symmetric matrix, descending; tiny negative round-off is clamped to 0.</summary>
    /// <exception cref="ArgumentException">the matrix is not square, or not finite.</exception>
    public static Spectrum SpectrumOf(Tensor matrix)
    {
        if (matrix.dim() != 2 || matrix.shape[0] != matrix.shape[1] || matrix.shape[0] == 0)
            throw new ArgumentException($"matrix of shape {Checks.Shape(matrix.shape)} must be square and non-empty", nameof(matrix));
        using var scope = NewDisposeScope();
        var m = matrix.detach().to(ScalarType.Float64);
        if (!m.isfinite().all().item<bool>())
            throw new ArgumentException("matrix contains NaN or infinity", nameof(matrix));
        var symmetric = (m + m.t()) / 2;
        var values = linalg.eigvalsh(symmetric).flip(0).clamp_min(0);
        return new Spectrum(values.data<double>().ToArray());
    }

    private static Tensor Rows(Tensor x)
    {
        if (x.dim() != 2)
            throw new ArgumentException($"x of shape {Checks.Shape(x.shape)} must be [n, d] (rows are samples)", nameof(x));
        if (x.shape[0] < 2)
            throw new ArgumentException($"x has {x.shape[0]} rows; at least 2 samples are needed", nameof(x));
        return x.detach().to(ScalarType.Float64);
    }
}
