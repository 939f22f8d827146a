using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Framework;

/// <summary>
/// The running estimate's two update paths: float64 values blended in place on CPU buffers (what the fused
/// kernels call each step) against tensor values blended with tensor ops (what the composite calls).
/// </summary>
public class RunningEstimateTests
{
    private sealed class Owner : nn.Module
    {
        public Owner() : base("Owner") { }
    }

    private static RunningEstimate Make(double? momentum, ScalarType dtype)
    {
        var owner = new Owner();
        var estimate = new RunningEstimate(new ModuleState(owner), new[]
        {
            new RunningStatistic("mean", new long[] { 5 }, StatisticInit.Zeros),
            new RunningStatistic("var", new long[] { 5 }, StatisticInit.Ones),
        }, momentum);
        owner.to(dtype);
        return estimate;
    }

    [Theory]
    [InlineData(0.1, ScalarType.Float32)]
    [InlineData(0.1, ScalarType.Float64)]
    [InlineData(null, ScalarType.Float32)]
    [InlineData(null, ScalarType.Float64)]
    public void Values_blend_like_tensors(double? momentum, ScalarType dtype)
    {
        var byValues = Make(momentum, dtype);
        var byTensors = Make(momentum, dtype);
        var rng = new Random(7);
        for (int step = 0; step < 4; step++)
        {
            var mean = Enumerable.Range(0, 5).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var variance = Enumerable.Range(0, 5).Select(_ => rng.NextDouble() + 0.5).ToArray();
            byValues.Update(("mean", mean), ("var", variance));
            byTensors.Update(("mean", tensor(mean)), ("var", tensor(variance)));
        }
        double tolerance = dtype == ScalarType.Float32 ? 1e-6 : 1e-14;
        foreach (var name in new[] { "mean", "var" })
        {
            Assert.Equal(dtype, byValues[name].dtype);
            Assert.True(byValues[name].allclose(byTensors[name], rtol: tolerance, atol: tolerance), name);
        }
        Assert.Equal(4L, byValues.BatchesTracked.item<long>());
        Assert.Equal(4L, byTensors.BatchesTracked.item<long>());
        Assert.NotEqual(0.0, byValues["mean"].abs().sum().to(ScalarType.Float64).item<double>());
    }

    [Fact]
    public void Values_of_the_wrong_size_are_rejected_before_counting_the_batch()
    {
        var estimate = Make(0.1, ScalarType.Float32);
        var e = Assert.Throws<ArgumentException>(() => estimate.Update(("mean", new double[4])));
        Assert.Contains("'mean' has 5 values, got 4", e.Message);
        Assert.Equal(0L, estimate.BatchesTracked.item<long>());
    }
}
