using NormLab.Layers;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Layers;

/// <summary>Population normalization of activations and of data-set inputs.</summary>
public class PopulationTests
{
    private static List<Tensor> DataSet(long seed) =>
        Enumerable.Range(0, 4).Select(i => new Rand(seed + i).Features(5 + i, 6, 3, 3) * (1 + i)).ToList();

    [Theory]
    [InlineData(PopulationMode.Center)]
    [InlineData(PopulationMode.Standardize)]
    [InlineData(PopulationMode.ZcaWhiten)]
    public void Fitted_statistics_equal_a_two_pass_reference_over_the_whole_data_set(PopulationMode mode)
    {
        var layer = new PopulationNorm(6, mode, group: 3, affine: false);
        layer.to(ScalarType.Float64);
        var data = DataSet(140);
        layer.Fit(data);
        var all = cat(data, 0).transpose(0, 1).reshape(6, -1);
        var mean = all.mean(new long[] { 1 });
        TensorAssert.Close(mean, layer.get_buffer("running_mean")!, what: "mean");
        var centered = all - mean.view(6, 1);
        if (mode == PopulationMode.Standardize)
            TensorAssert.Close(centered.square().mean(new long[] { 1 }), layer.get_buffer("running_var")!, what: "variance");
        if (mode == PopulationMode.ZcaWhiten)
        {
            var groups = centered.reshape(2, 3, -1);
            var sigma = groups.matmul(groups.transpose(1, 2)) / groups.shape[2] + eye(3, dtype: ScalarType.Float64) * 1e-5;
            var (l, u) = linalg.eigh(sigma);
            TensorAssert.Close(u.matmul(diag_embed(l.rsqrt())).matmul(u.transpose(1, 2)), layer.get_buffer("running_wm")!, what: "whitening matrix");
        }
        // training uses the population statistics too, so a sample's output does not depend on its batch
        layer.train();
        var x = data[0];
        TensorAssert.Close(layer.call(x)[..2], layer.call(x[..2]), rtol: 1e-12, atol: 1e-12);
    }

    [Fact]
    public void Frozen_statistics_stay_and_updated_ones_follow_training_batches()
    {
        var data = DataSet(150);
        var frozen = new PopulationNorm(6, update: false);
        var updated = new PopulationNorm(6, update: true, momentum: 0.5);
        frozen.to(ScalarType.Float64).Fit(data);
        updated.to(ScalarType.Float64).Fit(data);
        var before = frozen.get_buffer("running_mean")!.clone();
        var shifted = data[0] + 10;
        frozen.call(shifted);
        updated.call(shifted);
        Assert.True(TensorAssert.Same(before, frozen.get_buffer("running_mean")!));
        var batchMean = shifted.mean(new long[] { 0, 2, 3 });
        TensorAssert.Close(before * 0.5 + batchMean * 0.5, updated.get_buffer("running_mean")!, what: "updated mean");
    }

    [Fact]
    public void Population_norm_gradients_match_finite_differences()
    {
        var layer = NormRegistry.Create("population(mode=zca,group=2)", 4, 3, 3);
        layer.to(ScalarType.Float64);
        ((PopulationNorm)layer).Fit(new[] { new Rand(160).Features(8, 4, 3, 3) });
        NativeConformanceTests.Randomize(layer, 161);
        GradCheck.Module(layer, new Rand(162).Features(3, 4, 3, 3));
    }

    [Fact]
    public void Fitting_an_empty_data_set_is_a_clear_error()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new PopulationNorm(4).Fit(Array.Empty<Tensor>()));
        Assert.Contains("empty", e.Message);
    }

    private static Tensor IllConditioned(long seed)
    {
        var rand = new Rand(seed);
        var scales = logspace(-1.5, 1.5, 6, dtype: ScalarType.Float64);
        var mix = rand.Normal(6, 6) * 0.1 + eye(6, dtype: ScalarType.Float64);
        return (rand.Normal(400, 6) * scales).matmul(mix) + rand.Uniform(-5, 5, 6);
    }

    [Theory]
    [InlineData(InputNormalization.ZcaWhiten)]
    [InlineData(InputNormalization.PcaWhiten)]
    public void Input_whitening_brings_the_condition_number_to_one(InputNormalization mode)
    {
        var x = IllConditioned(170);
        var normalizer = new InputNormalizer(mode).Fit(x);
        Assert.True(normalizer.Before.ConditionNumber > 1e3, $"test data should be ill-conditioned, kappa = {normalizer.Before.ConditionNumber}");
        Assert.True(normalizer.Before.ConditionNumber < 1e8, $"test data is too ill-conditioned for 1e-6 in float64, kappa = {normalizer.Before.ConditionNumber}");
        Assert.InRange(normalizer.After.ConditionNumber, 1 - 1e-6, 1 + 1e-6);
        var measured = NormLab.Analysis.Conditioning.SpectrumOf(NormLab.Analysis.Conditioning.Covariance(normalizer.Apply(x)));
        Assert.InRange(measured.ConditionNumber, 1 - 1e-6, 1 + 1e-6);
    }

    [Fact]
    public void Input_centering_and_standardizing_report_their_conditioning()
    {
        var x = IllConditioned(171);
        var centered = new InputNormalizer(InputNormalization.Center).Fit(x);
        TensorAssert.Close(zeros(6, dtype: ScalarType.Float64), centered.Apply(x).mean(new long[] { 0 }), atol: 1e-9);
        Assert.Equal(centered.Before.ConditionNumber, centered.After.ConditionNumber, 6);
        var standardized = new InputNormalizer(InputNormalization.Standardize).Fit(x);
        TensorAssert.Close(ones(6, dtype: ScalarType.Float64), standardized.Apply(x).var(0, unbiased: false), rtol: 1e-9);
        Assert.True(standardized.After.ConditionNumber < standardized.Before.ConditionNumber);
        var singular = cat(new[] { x, x[.., ..1] }, 1);
        var e = Assert.ThrowsAny<ArgumentException>(() => new InputNormalizer(InputNormalization.ZcaWhiten).Fit(singular));
        Assert.Contains("singular", e.Message);
        // eps > 0 makes the fit possible; the null direction stays null, so kappa after is infinite
        var regularized = new InputNormalizer(InputNormalization.ZcaWhiten, eps: 1e-9).Fit(singular);
        Assert.Equal(1, regularized.After.LambdaMax, 6);
        Assert.True(double.IsPositiveInfinity(regularized.Before.ConditionNumber) || regularized.Before.ConditionNumber > 1e12);
    }
}
