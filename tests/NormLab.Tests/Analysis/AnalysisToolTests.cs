using NormLab.Analysis;
using NormLab.Layers;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Analysis;

/// <summary>Conditioning, least-squares descent, SND, scale invariance and the training monitor.</summary>
public class AnalysisToolTests
{
    [Fact]
    public void Spectrum_and_moments_match_closed_forms()
    {
        var x = new Rand(60).Normal(200, 3) * tensor(new double[] { 4, 1, 0.5 }) + 2;
        var second = Conditioning.SecondMoment(x);
        TensorAssert.Close(x.t().matmul(x) / 200, second);
        var cov = Conditioning.Covariance(x);
        var c = x - x.mean(new long[] { 0 });
        TensorAssert.Close(c.t().matmul(c) / 200, cov);
        var s = Conditioning.SpectrumOf(cov);
        var eig = linalg.eigvalsh(cov).data<double>().OrderByDescending(e => e).ToArray();
        Assert.Equal(eig[0], s.LambdaMax, 12);
        Assert.Equal(eig[0] / eig[2], s.ConditionNumber, 8);
        Assert.Equal(1 / eig[0], s.OptimalLearningRate, 12);
        Assert.Equal(2 / eig[0], s.MaxStableLearningRate, 12);
    }

    [Fact]
    public void Gradient_descent_diverges_just_above_two_over_lambda_max_and_slows_with_kappa()
    {
        var rand = new Rand(61);
        var x = rand.Normal(300, 4) * tensor(new double[] { 3, 1, 0.6, 0.3 });
        var y = x.matmul(tensor(new double[] { 1, -2, 0.5, 3 })) + rand.Normal(300) * 0.1;
        var s = Conditioning.SpectrumOf(Conditioning.SecondMoment(x));
        var above = LeastSquares.GradientDescent(x, y, s.MaxStableLearningRate * 1.01, maxIterations: 20000);
        var below = LeastSquares.GradientDescent(x, y, s.MaxStableLearningRate * 0.99, maxIterations: 200000);
        Assert.True(above.Diverged, $"lr 1.01*2/lambda_max should diverge: {above}");
        Assert.True(below.Converged, $"lr 0.99*2/lambda_max should converge: {below}");
        int previous = 0;
        foreach (var spread in new[] { 1.0, 3.0, 10.0 })
        {
            var xs = rand.Normal(300, 4) * tensor(new[] { spread, 1, 1, 1 / spread });
            var ys = xs.matmul(tensor(new double[] { 1, -2, 0.5, 3 }));
            var sp = Conditioning.SpectrumOf(Conditioning.SecondMoment(xs));
            var r = LeastSquares.GradientDescent(xs, ys, sp.OptimalLearningRate, maxIterations: 1_000_000);
            Assert.True(r.Converged);
            Assert.True(r.Iterations > previous, $"iterations should grow with kappa ({sp.ConditionNumber}): {r.Iterations} after {previous}");
            previous = r.Iterations;
        }
    }

    [Theory]
    [InlineData("in")]
    [InlineData("ln(affine=false)")]
    [InlineData("gn(groups=2,affine=false)")]
    public void SND_is_exactly_zero_for_batch_independent_normalizers(string spec)
    {
        var norm = NormRegistry.Create(spec, 4, 3, 3);
        norm.to(ScalarType.Float64);
        var data = new Rand(62).Features(40, 4, 3, 3);
        var snd = Snd.Estimate(norm, data, batchSize: 8, samples: 6, probes: 5, seed: 1);
        Assert.Equal(0.0, snd.Mean);
        Assert.All(snd.PerProbe, p => Assert.Equal(0.0, p));
    }

    [Fact]
    public void SND_of_batch_norm_decreases_strictly_as_the_batch_grows()
    {
        var norm = NormRegistry.Create("bn(affine=false)", 4, 3, 3);
        norm.to(ScalarType.Float64);
        var data = new Rand(63).Features(256, 4, 3, 3);
        var values = new[] { 4L, 16, 64 }.Select(b => Snd.Estimate(norm, data, b, samples: 16, probes: 16, seed: 2).Mean).ToArray();
        Assert.True(values[0] > values[1] && values[1] > values[2], $"SND by batch size 4, 16, 64: {string.Join(", ", values)}");
    }

    [Fact]
    public void SND_rejects_bad_arguments()
    {
        var norm = NormRegistry.Create("bn", 4);
        var e = Assert.ThrowsAny<ArgumentException>(() => Snd.Estimate(norm, ones(10, 4), batchSize: 11));
        Assert.Contains("batch size (11) must be between 1 and the data set size (10)", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => Snd.Estimate(norm, ones(0, 4), batchSize: 1));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Conv_followed_by_BN_is_scale_invariant()
    {
        manual_seed(64);
        var conv = nn.Conv2d(3, 4, 3, padding: 1);
        var bn = StandardNorms.BatchNorm2d(4, eps: 0); // eps > 0 breaks exact invariance: var(aWx) + eps
        var head = nn.Linear(4, 2);
        var model = nn.Sequential(conv, bn, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head);
        model.to(ScalarType.Float64);
        var rand = new Rand(65);
        var x = rand.Normal(8, 3, 5, 5);
        var y = rand.Normal(8, 2);
        Tensor Loss() => (model.call(x) - y).square().mean();
        foreach (var alpha in new[] { 0.1, 3.0, 25.0 })
        {
            var report = ScaleInvariance.Check(Loss, conv.weight!, alpha);
            Assert.True(report.LossRelativeChange <= 1e-10, $"alpha {alpha}: loss changed by {report.LossRelativeChange}");
            Assert.True(report.GradientRelativeError <= 1e-8, $"alpha {alpha}: gradient does not scale by 1/alpha ({report.GradientRelativeError})");
            Assert.Equal(report.GradientNorm / alpha, report.ScaledGradientNorm, 8);
        }
        var notInvariant = ScaleInvariance.Check(Loss, head.weight!, 3.0);
        Assert.True(notInvariant.LossRelativeChange > 1e-3, "the head is not followed by a normalizer");
        Assert.Equal(0.1 / Math.Pow(conv.weight!.norm().item<double>(), 2), ScaleInvariance.EffectiveLearningRate(0.1, conv.weight!), 12);
    }

    [Fact]
    public void Layer_input_moments_are_collected_through_hooks()
    {
        manual_seed(66);
        var model = nn.Sequential(("fc", nn.Linear(3, 4)), ("bn", StandardNorms.BatchNorm1d(4)), ("out", nn.Linear(4, 2)));
        model.to(ScalarType.Float64);
        var batches = Enumerable.Range(0, 3).Select(i => new Rand(67 + i).Normal(10, 3)).ToList();
        var moments = Conditioning.LayerInputs(model, new[] { "fc", "bn" }, batches, centered: true);
        var all = cat(batches);
        TensorAssert.Close(Conditioning.Covariance(all), moments["fc"], what: "fc input covariance");
        var fc = (nn.Module<Tensor, Tensor>)model.named_children().First(c => c.name == "fc").module;
        TensorAssert.Close(Conditioning.Covariance(fc.call(all)), moments["bn"], what: "bn input covariance");
        var e = Assert.ThrowsAny<ArgumentException>(() => Conditioning.LayerInputs(model, new[] { "nope" }, batches));
        Assert.Contains("layer 'nope'", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => Conditioning.SpectrumOf(ones(2, 3)));
        Assert.Contains("must be square", e.Message);
        e = Assert.ThrowsAny<ArgumentException>(() => Conditioning.Covariance(ones(1, 3)));
        Assert.Contains("at least 2 samples", e.Message);
    }

    [Fact]
    public void Training_monitor_writes_activation_gradient_and_weight_rows()
    {
        using var dir = new CliRunner.TempDir();
        manual_seed(68);
        var model = nn.Sequential(("fc", nn.Linear(3, 4)), ("bn", StandardNorms.BatchNorm1d(4)), ("out", nn.Linear(4, 2)));
        var optimizer = optim.SGD(model.parameters(), 0.1);
        using (var monitor = new TrainingMonitor(model, dir["m.csv"]))
        {
            for (int step = 0; step < 3; step++)
            {
                optimizer.zero_grad();
                model.call(randn(8, 3)).square().mean().backward();
                monitor.Record(step, 0.1);
                optimizer.step();
            }
        }
        var lines = File.ReadAllLines(dir["m.csv"]);
        Assert.Equal("step,kind,name,value", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("2,activation_mean,bn,"));
        Assert.Contains(lines, l => l.StartsWith("2,activation_var,bn,"));
        Assert.Contains(lines, l => l.StartsWith("0,grad_norm,fc.weight,"));
        Assert.Contains(lines, l => l.StartsWith("1,effective_lr,out.weight,"));
        Assert.Equal(3, lines.Count(l => l.Contains(",weight_norm,fc.weight,")));
    }
}
