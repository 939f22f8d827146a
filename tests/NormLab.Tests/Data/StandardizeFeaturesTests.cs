using NormLab.Data;
using static TorchSharp.torch;

namespace NormLab.Tests.Data;

/// <summary>Input standardization with the training split's population statistics, against a plain loop.</summary>
public class StandardizeFeaturesTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Matches_a_per_feature_loop_with_training_statistics(double floor)
    {
        var gen = new Generator(3);
        using var data = new LabeledDataset(randn(new long[] { 7, 2, 3 }, ScalarType.Float64, generator: gen) * 5 + 2, arange(7L) % 2,
            randn(new long[] { 4, 2, 3 }, ScalarType.Float64, generator: gen), arange(4L) % 2, 2);
        using var standardized = data.StandardizeFeatures(floor);

        var train = data.TrainX.reshape(7, 6).data<double>().ToArray();
        var means = new double[6];
        var variances = new double[6];
        for (int j = 0; j < 6; j++)
        {
            for (int i = 0; i < 7; i++) means[j] += train[i * 6 + j] / 7;
            for (int i = 0; i < 7; i++) variances[j] += Math.Pow(train[i * 6 + j] - means[j], 2) / 7;
        }
        double meanVariance = variances.Average();
        foreach (var (raw, result) in new[] { (data.TrainX, standardized.TrainX), (data.TestX, standardized.TestX) })
        {
            var x = raw.reshape(raw.shape[0], 6).data<double>().ToArray();
            var y = result.reshape(raw.shape[0], 6).data<double>().ToArray();
            for (int k = 0; k < x.Length; k++)
            {
                int j = k % 6;
                double expected = (x[k] - means[j]) / Math.Sqrt(variances[j] + floor * meanVariance);
                Assert.True(Math.Abs(y[k] - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"element {k}: {y[k]} vs {expected}");
            }
        }
        Assert.Equal(data.TrainX.shape, standardized.TrainX.shape);
        Assert.True(standardized.TrainY.eq(data.TrainY).all().item<bool>());
    }

    [Fact]
    public void Keeps_the_dtype_and_refuses_a_bad_floor()
    {
        using var data = SyntheticData.Images(seed: 1, train: 20, test: 5);
        using var standardized = data.StandardizeFeatures();
        Assert.Equal(ScalarType.Float32, standardized.TrainX.dtype);
        var e = Assert.Throws<ArgumentException>(() => data.StandardizeFeatures(-1));
        Assert.Contains("floor (-1) must be a finite number >= 0", e.Message);
    }
}
