using NormLab.Analysis;
using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Layers;

/// <summary>What an <see cref="InputNormalizer"/> does to each feature vector.</summary>
public enum InputNormalization
{
    /// <summary>x − μ.</summary>
    Center,
    /// <summary>(x − μ)/σ per feature.</summary>
    Standardize,
    /// <summary>Λ^(−1/2)·Uᵀ·(x − μ).</summary>
    PcaWhiten,
    /// <summary>U·Λ^(−1/2)·Uᵀ·(x − μ).</summary>
    ZcaWhiten,
}

/// <summary>
/// Input normalization with statistics of the whole data set (survey §3, population normalization of the
/// input; LeCun et al. 1998 "Efficient BackProp"): centering, standardizing, PCA or ZCA whitening of the
/// flattened samples, and the conditioning of the covariance before and after.
/// </summary>
/// <remarks>
/// Statistics are computed in float64 by two passes over the data: the mean, then the covariance
/// (biased, 1/n). With eps = 0 whitening makes the covariance exactly I (κ = 1); a singular covariance
/// then needs eps &gt; 0 (added to its eigenvalues / variances).
/// </remarks>
public sealed class InputNormalizer
{
    private Tensor? _mean;
    private Tensor? _transform;
    private Tensor? _covariance;

    /// <summary>Creates an unfitted normalizer.</summary>
    /// <param name="mode">What to do.</param>
    /// <param name="eps">Added to variances or eigenvalues, ≥ 0. Default 0.</param>
    public InputNormalizer(InputNormalization mode, double eps = 0)
    {
        Mode = mode;
        Eps = Checks.NonNegative(eps, nameof(eps));
    }

    /// <summary>The mode.</summary>
    public InputNormalization Mode { get; }

    /// <summary>The offset.</summary>
    public double Eps { get; }

    /// <summary>The feature mean μ [d] (float64), after fitting.</summary>
    public Tensor Mean => _mean ?? throw NotFitted();

    /// <summary>The linear map T [d, d] applied after centering (float64), after fitting.</summary>
    public Tensor Transform => _transform ?? throw NotFitted();

    /// <summary>The spectrum of the covariance before normalization.</summary>
    public Spectrum Before { get; private set; } = new(new[] { double.NaN });

    /// <summary>The spectrum of the covariance after normalization, T·Σ·Tᵀ.</summary>
    public Spectrum After { get; private set; } = new(new[] { double.NaN });

    /// <summary>Fits to a data set given in one tensor [n, *] (samples along dim 0).</summary>
    public InputNormalizer Fit(Tensor data) => Fit(new[] { data });

    /// <summary>Fits to a data set given in batches [b, *] (two passes: mean, then covariance).</summary>
    /// <exception cref="ArgumentException">an empty data set, fewer than 2 samples, mismatched batches, or a singular covariance with eps = 0.</exception>
    public InputNormalizer Fit(IEnumerable<Tensor> batches)
    {
        var list = batches.ToList();
        using var scope = NewDisposeScope();
        long n = 0, d = -1;
        Tensor? sum = null;
        foreach (var b in list)
        {
            var rows = Flatten(b, ref d);
            n += rows.shape[0];
            sum = sum is null ? rows.sum(new long[] { 0 }) : sum + rows.sum(new long[] { 0 });
        }
        if (sum is null || n == 0) throw new ArgumentException("the data set is empty", "data");
        if (n < 2) throw new ArgumentException($"the data set has {n} sample; at least 2 are needed", "data");
        var mean = sum / n;
        var cov = zeros(d, d, ScalarType.Float64);
        foreach (var b in list)
        {
            var centered = Flatten(b, ref d) - mean;
            cov = cov + centered.t().matmul(centered);
        }
        cov = cov / n;
        var transform = Mode switch
        {
            InputNormalization.Center => eye(d, dtype: ScalarType.Float64),
            InputNormalization.Standardize => diag(Positive(cov.diagonal(), "a feature has zero variance").rsqrt()),
            _ => Whitening(cov),
        };
        _mean = mean.MoveToOuterDisposeScope();
        _transform = transform.MoveToOuterDisposeScope();
        _covariance = cov.MoveToOuterDisposeScope();
        Before = Conditioning.SpectrumOf(_covariance);
        After = Conditioning.SpectrumOf(_transform.matmul(_covariance).matmul(_transform.t()));
        return this;
    }

    /// <summary>Applies T·(x − μ) to each sample of <paramref name="data"/> [n, *]; keeps its shape and dtype.</summary>
    /// <exception cref="ArgumentException">a sample size other than the fitted one.</exception>
    public Tensor Apply(Tensor data)
    {
        using var scope = NewDisposeScope();
        long d = Mean.shape[0];
        var rows = Flatten(data, ref d);
        return (rows - Mean).matmul(Transform.t()).reshape(data.shape).to(data.dtype).MoveToOuterDisposeScope();
    }

    private Tensor Whitening(Tensor cov)
    {
        var (lambda, u) = linalg.eigh(cov);
        var root = Positive(lambda, "the covariance is singular").rsqrt();
        var pca = root.unsqueeze(1) * u.t();
        return Mode == InputNormalization.PcaWhiten ? pca.flip(0) : u.matmul(pca);
    }

    /// <summary>
    /// values + eps, checked to be clearly positive: at or below the rank tolerance
    /// max·d·ε_float64 (numpy's matrix_rank rule) a value counts as zero.
    /// </summary>
    private Tensor Positive(Tensor values, string problem)
    {
        var shifted = values + Eps;
        double smallest = shifted.min().item<double>();
        double tolerance = values.abs().max().item<double>() * values.shape[0] * Math.Pow(2, -52);
        if (!(smallest > tolerance))
            throw new ArgumentException($"{problem} (smallest value {smallest:G3}, rank tolerance {tolerance:G3}); use eps > 0", "eps");
        return shifted;
    }

    private static Tensor Flatten(Tensor batch, ref long d)
    {
        if (batch.dim() < 1 || batch.shape[0] == 0)
            throw new ArgumentException($"batch of shape {Checks.Shape(batch.shape)} has no samples", "data");
        var rows = batch.detach().reshape(batch.shape[0], -1).to(ScalarType.Float64);
        if (d >= 0 && rows.shape[1] != d)
            throw new ArgumentException($"samples have {rows.shape[1]} features, expected {d}", "data");
        d = rows.shape[1];
        return rows;
    }

    private static InvalidOperationException NotFitted() => new("the input normalizer is not fitted; call Fit first");
}
