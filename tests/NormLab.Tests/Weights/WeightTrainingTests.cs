using NormLab.Registry;
using NormLab.Tests.Support;
using NormLab.Weights;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Weights;

/// <summary>Training smoke tests: a small MLP and a small CNN, every layer reparametrized by one method, learn.</summary>
public class WeightTrainingTests
{
    /// <summary>Every registry method with a spec that fits both networks (OWN needs groups of fewer rows than the row length).</summary>
    public static TheoryData<string> Specs() => new() { "wn", "cwn", "ws", "ws(eps_mode=biased)", "spectral", "spectral(exact=true)", "own(group=4)", "oni(T=5)", "normprop" };

    private static nn.Module<Tensor, Tensor> Activation(string spec) => spec == "normprop" ? new NormPropReLU() : nn.ReLU();

    /// <summary>Trains with SGD on a fixed synthetic regression problem; returns the first and the last loss.</summary>
    private static (double First, double Last) Train(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, double lr, int steps = 25)
    {
        var opt = optim.Adam(model.parameters(), lr);
        double first = 0, last = 0;
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = F.mse_loss(model.call(x), y);
            loss.backward();
            opt.step();
            if (i == 0) first = loss.item<double>();
            last = loss.item<double>();
        }
        return (first, last);
    }

    private static T Float64<T>(T m) where T : nn.Module
    {
        m.to(ScalarType.Float64);
        return m;
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Mlp_loss_decreases(string spec)
    {
        var rand = new Rand(1);
        var x = rand.Normal(64, 8);
        var y = (x.narrow(1, 0, 4) * x.narrow(1, 4, 4)).tanh();
        var l1 = WeightNormRegistry.Apply(Float64(nn.Linear(8, 16)), spec);
        var l2 = WeightNormRegistry.Apply(Float64(nn.Linear(16, 12)), spec);
        var l3 = WeightNormRegistry.Apply(Float64(nn.Linear(12, 4)), spec);
        var model = nn.Sequential(("l1", l1), ("a1", Activation(spec)), ("l2", l2), ("a2", Activation(spec)), ("l3", l3));
        var (first, last) = Train(model, x, y, lr: 0.02);
        Assert.True(last < 0.7 * first, $"{spec}: loss {first:F4} -> {last:F4}");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Cnn_loss_decreases(string spec)
    {
        var rand = new Rand(2);
        var x = rand.Normal(32, 2, 6, 6);
        var y = cat(new[] { x.mean(new long[] { 2, 3 }), x.amax(new long[] { 2, 3 }) }, 1).tanh();
        var c1 = WeightNormRegistry.Apply(Float64(nn.Conv2d(2, 8, 3)), spec);
        var c2 = WeightNormRegistry.Apply(Float64(nn.Conv2d(8, 8, 3)), spec);
        var head = WeightNormRegistry.Apply(Float64(nn.Linear(8, 4)), spec);
        var model = nn.Sequential(("c1", c1), ("a1", Activation(spec)), ("c2", c2), ("a2", Activation(spec)),
            ("pool", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("head", head));
        var (first, last) = Train(model, x, y, lr: 0.02);
        Assert.True(last < 0.7 * first, $"{spec}: loss {first:F4} -> {last:F4}");
    }
}
