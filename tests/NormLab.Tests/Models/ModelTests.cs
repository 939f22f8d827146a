using NormLab.Data;
using NormLab.Models;
using NormLab.Optim;
using Adam = NormLab.Optim.Adam;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Models;

/// <summary>SmallCnn and Mlp against their layer-by-layer definition, swappable normalizers, seeding, and the training loop.</summary>
public class ModelTests
{
    private static Tensor P(nn.Module m, string name) => m.get_parameter(name)!;

    [Fact]
    public void SmallCnn_without_normalization_is_conv_relu_stack_pool_linear()
    {
        var model = new SmallCnn(widths: new long[] { 3, 4, 5 }, classes: 6, seed: 2);
        model.to(ScalarType.Float64);
        var x = new Rand(1).Normal(2, 1, 28, 28);
        var h = F.relu(F.conv2d(x, P(model, "conv1.weight"), P(model, "conv1.bias"), padding: new long[] { 1, 1 }));
        h = F.relu(F.conv2d(h, P(model, "conv2.weight"), P(model, "conv2.bias"), strides: new long[] { 2, 2 }, padding: new long[] { 1, 1 }));
        h = F.relu(F.conv2d(h, P(model, "conv3.weight"), P(model, "conv3.bias"), strides: new long[] { 2, 2 }, padding: new long[] { 1, 1 }));
        Assert.Equal(new long[] { 2, 5, 7, 7 }, h.shape);
        var expected = F.linear(h.mean(new long[] { 2, 3 }), P(model, "fc.weight"), P(model, "fc.bias"));
        TensorAssert.Close(expected, model.call(x), rtol: 1e-12, atol: 1e-12);
    }

    [Fact]
    public void SmallCnn_takes_one_layer_per_width_and_halves_the_map_after_the_first()
    {
        var model = new SmallCnn("gn(groups=2)", widths: new long[] { 2, 4, 4, 6, 8 }, seed: 3);
        model.to(ScalarType.Float64);
        Assert.Equal(5, model.named_children().Count(c => c.name.StartsWith("conv")));
        Assert.Equal(new long[] { 8, 6, 3, 3 }, P(model, "conv5.weight").shape);
        var x = new Rand(1).Normal(3, 1, 28, 28);
        var h = x;
        long[] sizes = { 28, 14, 7, 4, 2 };
        for (int i = 1; i <= 5; i++)
        {
            h = F.conv2d(h, P(model, $"conv{i}.weight"), strides: i == 1 ? new long[] { 1, 1 } : new long[] { 2, 2 }, padding: new long[] { 1, 1 });
            Assert.Equal(sizes[i - 1], h.shape[2]);
            h = F.relu(F.group_norm(h, 2, P(model, $"norm{i}.weight"), P(model, $"norm{i}.bias"), 1e-5));
        }
        var expected = F.linear(h.mean(new long[] { 2, 3 }), P(model, "fc.weight"), P(model, "fc.bias"));
        TensorAssert.Close(expected, model.call(x), rtol: 1e-10, atol: 1e-12);
        Assert.Equal(new long[] { 3, 10 }, new SmallCnn(widths: new long[] { 4 }).call(ones(3, 1, 28, 28)).shape);
        Assert.Equal(new long[] { 28, 14, 7, 4, 2, 1, 1 }, Enumerable.Range(1, 7).Select(layers => SmallCnn.LastMapSize(28, layers)));
    }

    [Fact]
    public void SmallCnn_with_batch_norm_normalizes_after_each_conv_and_drops_the_conv_bias()
    {
        var model = new SmallCnn("bn", widths: new long[] { 3, 4, 5 }, seed: 2);
        model.to(ScalarType.Float64);
        Assert.Null(model.get_parameter("conv1.bias"));
        Assert.Contains("norm2.running_var", model.state_dict().Keys);
        var x = new Rand(1).Normal(4, 1, 28, 28);
        Tensor Bn(Tensor t, int i) => F.batch_norm(t, null, null, P(model, $"norm{i}.weight"), P(model, $"norm{i}.bias"), training: true);
        var h = F.relu(Bn(F.conv2d(x, P(model, "conv1.weight"), padding: new long[] { 1, 1 }), 1));
        h = F.relu(Bn(F.conv2d(h, P(model, "conv2.weight"), strides: new long[] { 2, 2 }, padding: new long[] { 1, 1 }), 2));
        h = F.relu(Bn(F.conv2d(h, P(model, "conv3.weight"), strides: new long[] { 2, 2 }, padding: new long[] { 1, 1 }), 3));
        var expected = F.linear(h.mean(new long[] { 2, 3 }), P(model, "fc.weight"), P(model, "fc.bias"));
        model.train();
        TensorAssert.Close(expected, model.call(x), rtol: 1e-10, atol: 1e-12);
    }

    [Fact]
    public void Mlp_flattens_and_applies_linear_norm_relu_per_hidden_layer()
    {
        var model = new Mlp(12, new long[] { 5, 4 }, classes: 3, norm: "ln", seed: 3);
        model.to(ScalarType.Float64);
        var x = new Rand(2).Normal(6, 3, 4);
        var h = x.reshape(6, 12);
        for (int i = 1; i <= 2; i++)
        {
            h = F.linear(h, P(model, $"fc{i}.weight"));
            h = F.relu(F.layer_norm(h, new[] { h.shape[1] }, P(model, $"norm{i}.weight"), P(model, $"norm{i}.bias")));
        }
        TensorAssert.Close(F.linear(h, P(model, "head.weight"), P(model, "head.bias")), model.call(x), rtol: 1e-10, atol: 1e-12);
    }

    [Fact]
    public void Any_registry_normalizer_fits_and_the_seed_makes_models_identical()
    {
        foreach (var norm in new[] { "none", "bn", "gn(groups=2)", "in(affine=true)", "ln", "rms" })
        {
            var a = new SmallCnn(norm, widths: new long[] { 4, 4, 4 }, seed: 7);
            var b = new SmallCnn(norm, widths: new long[] { 4, 4, 4 }, seed: 7);
            foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
                Assert.True(TensorAssert.Same(pa, pb), $"{norm}: {name} differs between equally seeded models");
            Assert.Equal(new long[] { 3, 10 }, a.call(ones(3, 1, 28, 28)).shape);
        }
        var c = new SmallCnn(widths: new long[] { 4, 4, 4 }, seed: 8);
        Assert.False(TensorAssert.Same(P(c, "conv1.weight"), P(new SmallCnn(widths: new long[] { 4, 4, 4 }, seed: 7), "conv1.weight")));
    }

    [Fact]
    public void Bad_inputs_and_sizes_are_one_line_errors()
    {
        var cnn = new SmallCnn(widths: new long[] { 2, 2, 2 });
        var e = Assert.Throws<ArgumentException>(() => cnn.call(ones(2, 3, 28, 28)));
        Assert.Equal("SmallCnn expects inputs [N, 1, 28, 28], got [2, 3, 28, 28]", e.Message);
        Assert.Contains("widths [] must be one or more channel counts >= 1", Assert.Throws<ArgumentException>(() => new SmallCnn(widths: System.Array.Empty<long>())).Message);
        Assert.Contains("widths [2, 0] must be one or more", Assert.Throws<ArgumentException>(() => new SmallCnn(widths: new long[] { 2, 0 })).Message);
        Assert.Contains("groups (3) must divide", Assert.Throws<ArgumentException>(() => new SmallCnn("gn(groups=3)", widths: new long[] { 4, 4, 4 })).Message);
        var mlp = new Mlp(10);
        Assert.Contains("Mlp expects inputs [N, *features] with 10 features, got [2, 3]", Assert.Throws<ArgumentException>(() => mlp.call(ones(2, 3))).Message);
    }

    [Fact]
    public void Epoch_returns_the_sample_weighted_mean_loss_and_evaluate_the_accuracy()
    {
        using var d = SyntheticData.Vectors(seed: 4, train: 10, test: 10, features: 6, classes: 3, dtype: ScalarType.Float64);
        var model = new Mlp(6, new long[] { 8 }, classes: 3, seed: 1);
        model.to(ScalarType.Float64);
        using var frozen = new Sgd(model.parameters(), lr: 0);
        double epoch = NormLab.Models.TrainingLoop.Epoch(model, frozen, d.TrainBatches(4));
        using (no_grad())
        {
            TensorAssert.Close(F.cross_entropy(model.call(d.TrainX), d.TrainY), tensor(epoch), rtol: 1e-12, atol: 0);
            var (loss, accuracy) = NormLab.Models.TrainingLoop.Evaluate(model, d.TestBatches(3));
            var logits = model.call(d.TestX);
            TensorAssert.Close(F.cross_entropy(logits, d.TestY), tensor(loss), rtol: 1e-12, atol: 0);
            Assert.Equal(logits.argmax(1).eq(d.TestY).to(ScalarType.Float64).mean().item<double>(), accuracy, 12);
        }
    }

    [Fact]
    public void Epoch_stops_at_the_first_non_finite_loss()
    {
        using var d = SyntheticData.Vectors(seed: 4, train: 12, test: 2, features: 6, classes: 3);
        var model = new Mlp(6, new long[] { 4 }, classes: 3, seed: 1);
        using var sgd = new Sgd(model.parameters(), lr: 0.1);
        int steps = 0;
        double loss = NormLab.Models.TrainingLoop.Epoch(model, sgd, d.TrainBatches(4), (l, y) => l.sum() / 0.0, afterStep: _ => steps++);
        Assert.False(double.IsFinite(loss));
        Assert.Equal(1, steps);
    }

    [Fact]
    public void Training_on_synthetic_vectors_reduces_the_loss()
    {
        using var d = SyntheticData.Vectors(seed: 5, train: 512, test: 128);
        var model = new Mlp(32, new long[] { 32 }, norm: "bn", seed: 4);
        using var adam = new Adam(model.parameters(), lr: 0.01);
        var shuffle = new Generator(1);
        double first = NormLab.Models.TrainingLoop.Epoch(model, adam, d.TrainBatches(64, shuffle));
        double last = first;
        for (int e = 0; e < 4; e++) last = NormLab.Models.TrainingLoop.Epoch(model, adam, d.TrainBatches(64, shuffle));
        Assert.True(last < 0.7 * first, $"loss {first:F3} -> {last:F3}");
    }
}
