using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Data;

/// <summary>
/// How hard a synthetic data set is made: per-feature gains spanning <see cref="ScaleDecades"/> orders of
/// magnitude, offsets of size <see cref="Offset"/>, and class-independent noise of level <see cref="Noise"/>.
/// </summary>
/// <param name="ScaleDecades">log10 span of the per-feature (per-pixel) gains, >= 0 (default 3: gains from 10^-1.5 to 10^1.5).</param>
/// <param name="Offset">Size of the additive per-feature offsets, >= 0 (default 4).</param>
/// <param name="Noise">Standard deviation of the correlated noise relative to the class signal (peak about 1), >= 0 (default 0.5).</param>
public sealed record SyntheticOptions(double ScaleDecades = 3, double Offset = 4, double Noise = 0.5)
{
    internal void Validate()
    {
        foreach (var (name, value) in new[] { (nameof(ScaleDecades), ScaleDecades), (nameof(Offset), Offset), (nameof(Noise), Noise) })
            if (!(double.IsFinite(value) && value >= 0))
                throw new ArgumentException($"{name} ({value}) must be a finite number >= 0", name);
    }
}

/// <summary>
/// Seeded synthetic classification data generated in code, built so that normalization matters:
/// class-conditional structure under anisotropic, correlated noise, then badly scaled (per-feature gains
/// spanning several orders of magnitude) and offset. Two forms: images [N, 1, 28, 28] (a Fashion-MNIST
/// stand-in) and vectors [N, D]. The same seed and arguments give bit-identical data; randomness comes
/// from a private <see cref="Generator"/>, never the global seed. Labels are balanced and shuffled;
/// train and test are disjoint draws from one distribution.
/// </summary>
public static class SyntheticData
{
    private const int Side = 28;
    private const int BlobsPerClass = 3;
    private const double GoldenFraction = 0.6180339887498949;
    private const int Chunk = 1024;

    /// <summary>
    /// Images [N, 1, 28, 28]: each class is a fixed pattern of five oriented, elongated strokes (a Gaussian
    /// with its own position, widths, angle and signed amplitude); each sample jitters the pattern by up to
    /// ±2 pixels, scales its contrast, and adds noise smoothed more along rows than columns (anisotropic,
    /// spatially correlated). Then a smooth per-pixel gain field spanning <see cref="SyntheticOptions.ScaleDecades"/>
    /// decades (uneven illumination) and a smooth positive offset field are applied.
    /// </summary>
    /// <param name="seed">The seed; the same seed gives the same data.</param>
    /// <param name="train">Training samples, >= 1 (default 6000).</param>
    /// <param name="test">Test samples, >= 1 (default 1000).</param>
    /// <param name="classes">Classes, >= 2 (default 10).</param>
    /// <param name="options">Difficulty (default <see cref="SyntheticOptions"/>()).</param>
    /// <param name="dtype">Floating dtype of the inputs (default float32).</param>
    /// <exception cref="ArgumentException">counts below their minimum, a non-float dtype, or bad options.</exception>
    public static LabeledDataset Images(long seed = 0, int train = 6000, int test = 1000, int classes = 10,
        SyntheticOptions? options = null, ScalarType dtype = ScalarType.Float32)
    {
        options = Validate(train, test, classes, options, dtype);
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)seed);
        int n = train + test;
        var y = Labels(n, classes, gen);

        // Class patterns: a texture (grating of class-specific orientation and frequency) inside a
        // class-specific mask of elongated Gaussian blobs (centre, widths along/across, angle, amplitude).
        var pattern = new[] { (6.0, 22.0), (6.0, 22.0), (3.0, 7.0), (1.5, 3.5), (0.0, Math.PI) }
            .Select(r => Uniform(gen, r.Item1, r.Item2, classes, BlobsPerClass)).ToArray();
        var amplitude = Uniform(gen, 0.6, 1.4, classes, BlobsPerClass);
        var classIndex = arange(classes, ScalarType.Float64);
        var orientation = (classIndex * GoldenFraction).frac() * Math.PI;
        var frequency = ((classIndex * (1 - GoldenFraction) + 0.25).frac() * 0.16 + 0.12) * 2 * Math.PI;
        var phase = Uniform(gen, 0, 2 * Math.PI, n);
        var shift = Uniform(gen, -2, 2, n, 2);
        var contrast = (randn(new long[] { n }, ScalarType.Float64, generator: gen) * 0.25).exp();
        var gain = (SmoothField(gen) * (options.ScaleDecades / 2 * Math.Log(10))).exp();
        var offset = (SmoothField(gen) + 1.5) * options.Offset;

        var x = empty(new long[] { n, 1, Side, Side }, dtype);
        for (int start = 0; start < n; start += Chunk)
        {
            using var chunkScope = NewDisposeScope();
            int count = Math.Min(Chunk, n - start);
            var labels = y.narrow(0, start, count);
            Tensor PerSample(Tensor t) => t.view(count, 1, 1, 1);
            var theta = PerSample(orientation.index_select(0, labels));
            var grating = (Grid(2) * theta.cos() + Grid(3) * theta.sin()).mul_(PerSample(frequency.index_select(0, labels)))
                .add_(PerSample(phase.narrow(0, start, count))).cos_();
            var image = Blobs(labels, pattern, amplitude, shift.narrow(0, start, count)).mul_(grating).mul_(PerSample(contrast.narrow(0, start, count)));
            image.add_(SmoothNoise(gen, count, sigmaRows: 1.5, sigmaCols: 0.5).mul_(options.Noise)).mul_(gain).add_(offset);
            x.narrow(0, start, count).copy_(image);
        }
        return Split(x, y, train, classes);
    }

    /// <summary>
    /// Vectors [N, D]: each class is a mixture of two Gaussian clusters (so a linear model is not enough)
    /// with random means, sharing a correlated anisotropic covariance (a random rotation of standard
    /// deviations log-spaced from 2 to 0.1); then each feature gets a gain 10^u, u uniform over
    /// <see cref="SyntheticOptions.ScaleDecades"/> decades, and an offset of up to ±Offset gains.
    /// </summary>
    /// <param name="seed">The seed; the same seed gives the same data.</param>
    /// <param name="train">Training samples, >= 1 (default 6000).</param>
    /// <param name="test">Test samples, >= 1 (default 1000).</param>
    /// <param name="features">D, >= 2 (default 32).</param>
    /// <param name="classes">Classes, >= 2 (default 10).</param>
    /// <param name="options">Difficulty (default <see cref="SyntheticOptions"/>()).</param>
    /// <param name="dtype">Floating dtype of the inputs (default float32).</param>
    /// <exception cref="ArgumentException">counts below their minimum, a non-float dtype, or bad options.</exception>
    public static LabeledDataset Vectors(long seed = 0, int train = 6000, int test = 1000, int features = 32, int classes = 10,
        SyntheticOptions? options = null, ScalarType dtype = ScalarType.Float32)
    {
        options = Validate(train, test, classes, options, dtype);
        if (features < 2) throw new ArgumentException($"features ({features}) must be at least 2", nameof(features));
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)seed);
        int n = train + test;
        var y = Labels(n, classes, gen);

        // Class means live in a random low-dimensional subspace, so most directions carry only noise.
        int informative = Math.Min(features, 6);
        var basis = linalg.qr(randn(new long[] { features, informative }, ScalarType.Float64, generator: gen)).Q;
        var means = randn(new long[] { classes, 2, informative }, ScalarType.Float64, generator: gen).matmul(basis.t());
        var cluster = randint(0, 2, new long[] { n }, generator: gen);
        var mu = means.index_select(0, y).gather(1, cluster.view(n, 1, 1).expand(n, 1, features)).squeeze(1);
        var rotation = linalg.qr(randn(new long[] { features, features }, ScalarType.Float64, generator: gen)).Q;
        var stds = logspace(Math.Log10(2), Math.Log10(0.1), features, dtype: ScalarType.Float64);
        var noise = randn(new long[] { n, features }, ScalarType.Float64, generator: gen) * stds;
        var clean = mu + noise.matmul(rotation.t()) * options.Noise;

        var gain = pow(10, Uniform(gen, -options.ScaleDecades / 2, options.ScaleDecades / 2, features));
        var offset = Uniform(gen, -options.Offset, options.Offset, features) * gain;
        var x = (clean * gain + offset).to(dtype);
        return Split(x, y, train, classes);
    }

    private static SyntheticOptions Validate(int train, int test, int classes, SyntheticOptions? options, ScalarType dtype)
    {
        if (train < 1) throw new ArgumentException($"train ({train}) must be at least 1", nameof(train));
        if (test < 1) throw new ArgumentException($"test ({test}) must be at least 1", nameof(test));
        if (classes < 2) throw new ArgumentException($"classes ({classes}) must be at least 2", nameof(classes));
        if (!is_floating_point(empty(0, dtype)))
            throw new ArgumentException($"dtype ({dtype}) must be a floating-point type", nameof(dtype));
        options ??= new SyntheticOptions();
        options.Validate();
        return options;
    }

    /// <summary>Balanced labels (i mod classes) in a random order.</summary>
    private static Tensor Labels(int n, int classes, Generator gen) =>
        randperm(n, generator: gen).remainder(classes);

    private static Tensor Uniform(Generator gen, double lo, double hi, params long[] shape) =>
        rand(shape, ScalarType.Float64, generator: gen) * (hi - lo) + lo;

    /// <summary>
    /// The class masks of <paramref name="labels"/>, shifted per sample: Σ_b a_b·exp(−u²/2s_u² − v²/2s_v²) with
    /// (u, v) the pixel offset from the blob centre rotated by the blob angle: [count, 1, 28, 28].
    /// </summary>
    private static Tensor Blobs(Tensor labels, Tensor[] pattern, Tensor amplitude, Tensor shift)
    {
        long count = labels.shape[0];
        var image = zeros(new long[] { count, 1, Side, Side }, ScalarType.Float64);
        for (int b = 0; b < BlobsPerClass; b++)
        {
            Tensor Param(Tensor p) => p.select(1, b).index_select(0, labels).view(count, 1, 1, 1);
            var rows = Grid(2) - (Param(pattern[0]) + shift.select(1, 0).view(count, 1, 1, 1));
            var cols = Grid(3) - (Param(pattern[1]) + shift.select(1, 1).view(count, 1, 1, 1));
            var angle = Param(pattern[4]);
            var along = Param(pattern[2]);
            var across = Param(pattern[3]);
            // In place where possible: each full-size temporary is fresh memory, which is expensive here.
            var u = (rows * angle.cos()).add(cols * angle.sin()).pow_(2).div_(along.square() * 2);
            var v = (cols * angle.cos()).sub(rows * angle.sin()).pow_(2).div_(across.square() * 2);
            image.add_(u.add_(v).neg_().exp_().mul_(Param(amplitude)));
        }
        return image;
    }

    /// <summary>Pixel coordinates 0..27 along dim 2 (rows) or 3 (columns), shaped to broadcast over [N, 1, 28, 28].</summary>
    private static Tensor Grid(int dim) => arange(Side, ScalarType.Float64).view(dim == 2 ? new long[] { 1, 1, Side, 1 } : new long[] { 1, 1, 1, Side });

    /// <summary>White noise blurred by a separable Gaussian with different widths along rows and columns, rescaled to unit std: [n, 1, 28, 28].</summary>
    private static Tensor SmoothNoise(Generator gen, int n, double sigmaRows, double sigmaCols)
    {
        var white = randn(new long[] { n, 1, Side, Side }, ScalarType.Float64, generator: gen);
        var kr = Kernel(sigmaRows);
        var kc = Kernel(sigmaCols);
        var blurred = Blur(Blur(white, kr, dim: 2), kc, dim: 3);
        // Interior standard deviation of blurred unit white noise: sqrt(sum k_r^2 * sum k_c^2).
        return blurred.div_(Math.Sqrt(kr.Sum(k => k * k) * kc.Sum(k => k * k)));
    }

    /// <summary>Correlates <paramref name="x"/> with <paramref name="kernel"/> (odd length) along <paramref name="dim"/>, zero-padded to keep the size.</summary>
    private static Tensor Blur(Tensor x, double[] kernel, int dim)
    {
        int half = kernel.Length / 2;
        var pad = dim == 2 ? new long[] { 0, 0, half, half } : new long[] { half, half, 0, 0 };
        var padded = nn.functional.pad(x, pad);
        var result = zeros_like(x);
        for (int k = 0; k < kernel.Length; k++)
            result.add_(padded.narrow(dim, k, x.shape[dim]), alpha: kernel[k]);
        return result;
    }

    /// <summary>A normalized 9-tap Gaussian kernel.</summary>
    private static double[] Kernel(double sigma)
    {
        var k = Enumerable.Range(-4, 9).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        double sum = k.Sum();
        return k.Select(v => v / sum).ToArray();
    }

    /// <summary>A smooth random field over the image, a sum of three low-frequency waves, scaled to [−1, 1]: [28, 28].</summary>
    private static Tensor SmoothField(Generator gen)
    {
        var rows = arange(Side, ScalarType.Float64).view(Side, 1) / Side;
        var cols = arange(Side, ScalarType.Float64).view(1, Side) / Side;
        var field = zeros(Side, Side, ScalarType.Float64);
        var p = Uniform(gen, 0, 1, 3, 4);
        for (int k = 0; k < 3; k++)
        {
            double fr = p[k, 0].item<double>() * 2 - 1, fc = p[k, 1].item<double>() * 2 - 1;
            field += (2 * Math.PI * (rows * fr + cols * fc) + 2 * Math.PI * p[k, 2].item<double>()).cos() * (0.5 + p[k, 3].item<double>());
        }
        var lo = field.min().item<double>();
        var hi = field.max().item<double>();
        return (field - lo) / Math.Max(hi - lo, 1e-12) * 2 - 1;
    }

    private static LabeledDataset Split(Tensor x, Tensor y, int train, int classes)
    {
        long n = x.shape[0];
        return new LabeledDataset(x.narrow(0, 0, train).clone(), y.narrow(0, 0, train).clone(),
            x.narrow(0, train, n - train).clone(), y.narrow(0, train, n - train).clone(), classes);
    }
}
