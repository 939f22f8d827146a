using NormLab.Data;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Data;

/// <summary>The synthetic data sets: deterministic per seed, balanced, class-conditional, badly scaled, anisotropic.</summary>
public class SyntheticDataTests
{
    [Fact]
    public void Images_are_deterministic_for_a_seed_and_differ_across_seeds()
    {
        using var a = SyntheticData.Images(seed: 4, train: 60, test: 20);
        using var b = SyntheticData.Images(seed: 4, train: 60, test: 20);
        using var c = SyntheticData.Images(seed: 5, train: 60, test: 20);
        Assert.True(TensorAssert.Same(a.TrainX, b.TrainX) && TensorAssert.Same(a.TestX, b.TestX));
        Assert.True(TensorAssert.Same(a.TrainY, b.TrainY) && TensorAssert.Same(a.TestY, b.TestY));
        Assert.False(TensorAssert.Same(a.TrainX, c.TrainX));
        Assert.Equal(new long[] { 60, 1, 28, 28 }, a.TrainX.shape);
        Assert.Equal(new long[] { 20, 1, 28, 28 }, a.TestX.shape);
        Assert.Equal(new long[] { 1, 28, 28 }, a.FeatureShape);
        Assert.Equal(ScalarType.Float32, a.TrainX.dtype);
        Assert.Equal(ScalarType.Int64, a.TrainY.dtype);
    }

    [Fact]
    public void Vectors_are_deterministic_and_take_the_requested_size_and_dtype()
    {
        using var a = SyntheticData.Vectors(seed: 2, train: 50, test: 10, features: 12, classes: 4, dtype: ScalarType.Float64);
        using var b = SyntheticData.Vectors(seed: 2, train: 50, test: 10, features: 12, classes: 4, dtype: ScalarType.Float64);
        Assert.True(TensorAssert.Same(a.TrainX, b.TrainX) && TensorAssert.Same(a.TestY, b.TestY));
        Assert.Equal(new long[] { 50, 12 }, a.TrainX.shape);
        Assert.Equal(ScalarType.Float64, a.TrainX.dtype);
        Assert.Equal(4, a.Classes);
    }

    [Fact]
    public void Labels_are_balanced_over_train_and_test_together()
    {
        using var d = SyntheticData.Images(seed: 1, train: 90, test: 10);
        var counts = cat(new[] { d.TrainY, d.TestY }).bincount(null);
        Assert.Equal(10, counts.shape[0]);
        Assert.True(counts.eq(10).all().item<bool>());
    }

    [Fact]
    public void Vector_features_are_badly_scaled_offset_and_correlated()
    {
        using var d = SyntheticData.Vectors(seed: 3, train: 4000, test: 10, features: 16, dtype: ScalarType.Float64);
        var std = d.TrainX.std(0);
        var mean = d.TrainX.mean(new long[] { 0 });
        double decades = Math.Log10(std.max().item<double>() / std.min().item<double>());
        Assert.True(decades > 2, $"feature scales span only {decades:F2} decades");
        Assert.True((mean.abs() / std).max().item<double>() > 1, "no feature has an offset larger than its spread");
        var corr = corrcoef(d.TrainX.t());
        double offDiagonal = (corr - eye(16, dtype: ScalarType.Float64)).abs().max().item<double>();
        Assert.True(offDiagonal > 0.3, $"features are nearly uncorrelated (max |r| = {offDiagonal:F2})");
    }

    [Fact]
    public void Image_pixels_span_decades_of_scale_and_the_noise_is_anisotropic()
    {
        using var d = SyntheticData.Images(seed: 6, train: 2000, test: 10, dtype: ScalarType.Float64);
        var x = d.TrainX.view(2000, 28, 28);
        var std = x.std(0);
        double decades = Math.Log10(std.max().item<double>() / std.min().item<double>());
        Assert.True(decades > 1.5, $"pixel scales span only {decades:F2} decades");
        Assert.True(x.mean().item<double>() > 2 * x.std(0).median().item<double>(), "pixels carry no offset");

        // Residuals around each class's mean image, normalized per pixel: the noise is smoother along rows (dim H).
        var residual = x.clone();
        for (int k = 0; k < 10; k++)
        {
            var idx = nonzero(d.TrainY.eq(k)).squeeze(1);
            residual.index_copy_(0, idx, x.index_select(0, idx) - x.index_select(0, idx).mean(new long[] { 0 }, keepdim: true));
        }
        residual /= residual.std(0, keepdim: true);
        double Correlation(Tensor a, Tensor b) => (a * b).mean().item<double>();
        double vertical = Correlation(residual[.., 4..23, 4..24], residual[.., 5..24, 4..24]);
        double horizontal = Correlation(residual[.., 4..24, 4..23], residual[.., 4..24, 5..24]);
        Assert.True(vertical > horizontal + 0.2, $"neighbour correlation vertical {vertical:F2}, horizontal {horizontal:F2}");
    }

    [Fact]
    public void Classes_are_distinguishable_from_their_mean_images()
    {
        // Nearest class-mean on the train split classifies held-out images well above chance: the classes carry signal.
        using var d = SyntheticData.Images(seed: 8, train: 2000, test: 500, options: new SyntheticOptions(ScaleDecades: 0, Offset: 0), dtype: ScalarType.Float64);
        var x = d.TrainX.view(2000, -1);
        var means = stack(Enumerable.Range(0, 10).Select(k => x.index_select(0, nonzero(d.TrainY.eq(k)).squeeze(1)).mean(new long[] { 0 })).ToArray());
        var test = d.TestX.view(500, -1);
        var predicted = cdist(test, means).argmin(1);
        double accuracy = predicted.eq(d.TestY).to(ScalarType.Float64).mean().item<double>();
        Assert.True(accuracy > 0.2, $"nearest-mean accuracy {accuracy:F2}");
    }

    [Fact]
    public void Bad_arguments_are_one_line_errors()
    {
        Assert.Contains("train (0) must be at least 1", Assert.Throws<ArgumentException>(() => SyntheticData.Images(train: 0)).Message);
        Assert.Contains("classes (1) must be at least 2", Assert.Throws<ArgumentException>(() => SyntheticData.Vectors(classes: 1)).Message);
        Assert.Contains("features (1) must be at least 2", Assert.Throws<ArgumentException>(() => SyntheticData.Vectors(features: 1)).Message);
        Assert.Contains("dtype (Int64) must be a floating-point type", Assert.Throws<ArgumentException>(() => SyntheticData.Images(dtype: ScalarType.Int64)).Message);
        Assert.Contains("Noise (-1) must be a finite number >= 0", Assert.Throws<ArgumentException>(() => SyntheticData.Images(options: new SyntheticOptions(Noise: -1))).Message);
    }

    [Fact]
    public void Batches_cover_every_sample_once_and_reshuffle_deterministically()
    {
        using var d = SyntheticData.Vectors(seed: 1, train: 10, test: 3, features: 2);
        var ids = arange(10).to(ScalarType.Float32).view(10, 1).expand(10, 2).contiguous();
        var gen1 = new Generator(9);
        var gen2 = new Generator(9);
        var first = Batches.Of(ids, d.TrainY, 4, gen1).Select(b => b.X[.., 0].to(ScalarType.Int64)).ToList();
        var again = Batches.Of(ids, d.TrainY, 4, gen2).Select(b => b.X[.., 0].to(ScalarType.Int64)).ToList();
        var second = Batches.Of(ids, d.TrainY, 4, gen1).Select(b => b.X[.., 0].to(ScalarType.Int64)).ToList();
        Assert.Equal(new long[] { 4, 4, 2 }, first.Select(b => b.shape[0]));
        Assert.True(TensorAssert.Same(arange(10), cat(first.ToArray()).sort().Values));
        Assert.True(TensorAssert.Same(cat(first.ToArray()), cat(again.ToArray())));
        Assert.False(TensorAssert.Same(cat(first.ToArray()), cat(second.ToArray())));
        Assert.Equal(2, Batches.Of(ids, d.TrainY, 4, dropLast: true).Count());
        Assert.True(TensorAssert.Same(arange(4), Batches.Of(ids, d.TrainY, 4).First().X[.., 0].to(ScalarType.Int64)));
    }
}
