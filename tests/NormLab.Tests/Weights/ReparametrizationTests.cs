using NormLab.Framework;
using NormLab.Registry;
using NormLab.Tests.Support;
using NormLab.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NormLab.Tests.Weights;

/// <summary>
/// The shared apply/remove mechanism: the effective weight is recomputed from the method's state on every
/// forward, on TorchSharp's built-in layers and on custom modules, inside Sequential, with optimizers and
/// with state dicts.
/// </summary>
public class ReparametrizationTests
{
    private static Linear Linear64(long i, long o, bool bias = true)
    {
        var m = nn.Linear(i, o, hasBias: bias);
        m.to(ScalarType.Float64);
        return m;
    }

    private static Tensor WnReference(Tensor g, Tensor v) =>
        v * (g / v.reshape(v.shape[0], -1).norm(1, keepdim: true).reshape(g.shape));

    [Fact]
    public void Linear_parameters_are_g_v_and_bias_and_the_forward_uses_the_effective_weight()
    {
        var lin = Linear64(5, 3);
        var w0 = lin.weight.detach().clone();
        WeightNorm.Apply(lin);
        Assert.Equal(new[] { "bias", "weight_g", "weight_v" }, lin.named_parameters().Select(p => p.name).ToArray());
        Assert.Equal(new[] { "bias", "weight_g", "weight_v" }, lin.state_dict().Keys.ToArray());
        var g = lin.get_parameter("weight_g")!;
        var v = lin.get_parameter("weight_v")!;
        Assert.Equal(new long[] { 3, 1 }, g.shape);
        TensorAssert.Close(w0, v, what: "weight_v starts as the weight");

        using (no_grad()) { g.mul_(2.0); v.add_(0.25); }
        var x = new Rand(1).Normal(4, 5);
        var y = lin.call(x);
        var expected = F.linear(x, WnReference(g, v), lin.bias);
        TensorAssert.Close(expected, y, what: "forward after changing g and v");
        TensorAssert.Close(WnReference(g, v), lin.weight, what: "lin.weight is the last effective weight");
    }

    [Fact]
    public void Gradients_reach_the_method_parameters_through_the_module()
    {
        var lin = Linear64(4, 3);
        WeightNorm.Apply(lin);
        var x = new Rand(2).Normal(6, 4);
        var gOut = new Rand(3).Normal(6, 3);
        (lin.call(x) * gOut).sum().backward();

        var g = lin.get_parameter("weight_g")!.detach().clone().requires_grad_(true);
        var v = lin.get_parameter("weight_v")!.detach().clone().requires_grad_(true);
        var b = lin.bias!.detach().clone().requires_grad_(true);
        (F.linear(x, WnReference(g, v), b) * gOut).sum().backward();
        TensorAssert.Close(g.grad!, lin.get_parameter("weight_g")!.grad!, what: "grad weight_g");
        TensorAssert.Close(v.grad!, lin.get_parameter("weight_v")!.grad!, what: "grad weight_v");
        TensorAssert.Close(b.grad!, lin.bias!.grad!, what: "grad bias");
    }

    [Fact]
    public void Gradients_of_several_forwards_accumulate_after_the_weight_was_recomputed()
    {
        var lin = Linear64(4, 3);
        CenteredWeightNorm.Apply(lin);
        var x1 = new Rand(20).Normal(2, 4);
        var x2 = new Rand(21).Normal(5, 4);
        var loss1 = lin.call(x1).square().sum();
        var loss2 = lin.call(x2).sum(); // replaces (and disposes) the weight loss1 was built from
        (loss1 + loss2).backward();

        var w = lin.get_parameter("weight_orig")!.detach().clone().requires_grad_(true);
        var c = w - w.mean(new long[] { 1 }, keepdim: true);
        var eff = 1.414 * c / (c.norm(1, keepdim: true) + 1e-5);
        (F.linear(x1, eff, lin.bias!.detach()).square().sum() + F.linear(x2, eff, lin.bias!.detach()).sum()).backward();
        TensorAssert.Close(w.grad!, lin.get_parameter("weight_orig")!.grad!, what: "accumulated gradient");
    }

    [Fact]
    public void Works_inside_Sequential_with_an_optimizer_and_changes_follow_each_step()
    {
        var l1 = Linear64(4, 8);
        var l2 = Linear64(8, 2);
        WeightNorm.Apply(l1);
        SpectralNorm.Apply(l2);
        var model = nn.Sequential(("l1", l1), ("act", nn.ReLU()), ("l2", l2));
        var names = model.named_parameters().Select(p => p.name).ToArray();
        Assert.Equal(new[] { "l1.bias", "l1.weight_g", "l1.weight_v", "l2.bias", "l2.weight_orig" }, names);
        Assert.Equal(new[] { "l2.weight_u", "l2.weight_v" }, model.named_buffers().Select(b => b.name).ToArray());

        var opt = optim.SGD(model.parameters(), 0.1);
        var x = new Rand(4).Normal(16, 4);
        var target = new Rand(5).Normal(16, 2);
        var g0 = l1.get_parameter("weight_g")!.detach().clone();
        var before = l1.weight.detach().clone();
        for (int i = 0; i < 2; i++)
        {
            opt.zero_grad();
            F.mse_loss(model.call(x), target).backward();
            opt.step();
        }
        Assert.False(TensorAssert.Same(g0, l1.get_parameter("weight_g")!), "the optimizer updated weight_g");
        model.call(x);
        var expected = WnReference(l1.get_parameter("weight_g")!, l1.get_parameter("weight_v")!);
        TensorAssert.Close(expected, l1.weight, what: "effective weight after the steps");
        Assert.True((before - l1.weight).abs().max().item<double>() > 1e-6, "the effective weight moved");
    }

    [Fact]
    public void State_dict_save_and_load_round_trip_into_a_fresh_reparametrized_module()
    {
        var a = Linear64(4, 3);
        SpectralNorm.Apply(a, n_power_iterations: 2);
        var x = new Rand(6).Normal(5, 4);
        a.call(x); // one power iteration in training mode changes u and v
        a.eval();
        var ya = a.call(x);

        using var dir = new CliRunner.TempDir();
        a.save(dir["a.bin"]);
        var b = Linear64(4, 3);
        SpectralNorm.Apply(b, n_power_iterations: 2);
        b.load(dir["a.bin"]);
        b.eval();
        TensorAssert.Close(ya, b.call(x), rtol: 0, atol: 0, what: "eval output after load");

        var c = Linear64(4, 3);
        SpectralNorm.Apply(c, n_power_iterations: 2);
        c.load_state_dict(a.state_dict());
        c.eval();
        TensorAssert.Close(ya, c.call(x), rtol: 0, atol: 0, what: "eval output after load_state_dict");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Convolutions_of_every_rank_use_the_effective_weight(int rank)
    {
        nn.Module<Tensor, Tensor> conv = rank switch
        {
            1 => nn.Conv1d(3, 4, 3),
            2 => nn.Conv2d(3, 4, 3),
            _ => nn.Conv3d(3, 4, 3),
        };
        conv.to(ScalarType.Float64);
        var w0 = ((Convolution)conv).weight.detach().clone();
        WeightStandardization.Apply(conv);
        var x = new Rand(7).Normal(new long[] { 2, 3 }.Concat(Enumerable.Repeat(5L, rank)).ToArray());
        var y = conv.call(x);
        var m = w0.reshape(4, -1);
        var ws = ((m - m.mean(new long[] { 1 }, keepdim: true)) / (m.std(1, unbiased: true, keepdim: true) + 1e-5)).reshape(w0.shape);
        var bias = ((Convolution)conv).bias!;
        var expected = rank switch
        {
            1 => F.conv1d(x, ws, bias),
            2 => F.conv2d(x, ws, bias),
            _ => F.conv3d(x, ws, bias),
        };
        TensorAssert.Close(expected, y, what: $"conv{rank}d output");
        Assert.Equal(new[] { "bias", "weight_orig" }, conv.named_parameters().Select(p => p.name).ToArray());
    }

    /// <summary>A custom module that reads its weight from a field registered by RegisterComponents.</summary>
    private sealed class FieldModule : nn.Module<Tensor, Tensor>
    {
        public Parameter weight;

        public FieldModule(Tensor w) : base("FieldModule")
        {
            weight = new Parameter(w.clone());
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => x.matmul(weight.t());
    }

    /// <summary>A NormLab-style module that looks its weight up by name on each forward.</summary>
    private sealed class ByNameModule : NormModule
    {
        public ByNameModule(Tensor w) : base("ByNameModule") => State.AddParameter("weight", w);

        public override Tensor forward(Tensor x) => x.matmul(State.Parameter("weight").t());
    }

    [Fact]
    public void Custom_modules_reading_a_field_or_a_registered_name_are_supported_and_move_with_to()
    {
        var w = new Rand(8).Normal(3, 4);
        var x = new Rand(9).Normal(2, 4);
        foreach (nn.Module<Tensor, Tensor> m in new nn.Module<Tensor, Tensor>[] { new FieldModule(w), new ByNameModule(w) })
        {
            WeightNormRegistry.Apply(m, "wn");
            Assert.Equal(new[] { "weight_g", "weight_v" }, m.named_parameters().Select(p => p.name).ToArray());
            using (no_grad()) m.get_parameter("weight_g")!.mul_(3.0);
            TensorAssert.Close(x.matmul((3.0 * w).t()), m.call(x), what: m.GetName());
            Assert.Equal(new[] { "weight_g", "weight_v" }, m.named_parameters().Select(p => p.name).ToArray());

            m.to(ScalarType.Float32);
            var y32 = m.call(x.to(ScalarType.Float32));
            Assert.Equal(ScalarType.Float32, y32.dtype);
            Assert.Equal(ScalarType.Float32, m.get_parameter("weight_v")!.dtype);
            Reparametrization.Remove(m);
            Assert.Equal(new[] { "weight" }, m.named_parameters().Select(p => p.name).ToArray());
        }
    }

    [Fact]
    public void State_created_inside_a_dispose_scope_outlives_it()
    {
        var lin = Linear64(4, 3);
        var conv = nn.Conv2d(2, 4, 3);
        conv.to(ScalarType.Float64);
        using (NewDisposeScope())
        {
            WeightNorm.Apply(lin);
            SpectralNorm.Apply(conv);
            lin.call(ones(1, 4, ScalarType.Float64));
        }
        var x = new Rand(14).Normal(2, 4);
        Assert.Equal(new long[] { 2, 3 }, lin.call(x).shape);
        Assert.Equal(new long[] { 1, 4, 3, 3 }, conv.call(new Rand(15).Normal(1, 2, 5, 5)).shape);
        foreach (var (name, t) in lin.state_dict().Concat(conv.state_dict()))
            Assert.False(t.IsInvalid, $"{name} was disposed with the scope");
        using (NewDisposeScope()) Reparametrization.Remove(lin);
        Assert.Equal(new long[] { 2, 3 }, lin.call(x).shape);
    }

    [Fact]
    public void Remove_folds_the_effective_weight_into_a_plain_parameter()
    {
        var lin = Linear64(5, 4);
        OrthogonalWeightNorm.Apply(lin);
        var x = new Rand(10).Normal(3, 5);
        var y = lin.call(x);
        Reparametrization.Remove(lin);
        Assert.Equal(new[] { "bias", "weight" }, lin.named_parameters().Select(p => p.name).ToArray());
        Assert.Null(Reparametrization.Find(lin));
        Assert.True(lin.weight.is_leaf && lin.weight.requires_grad);
        TensorAssert.Close(y, lin.call(x), what: "output after Remove");
        lin.to(ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, lin.call(x.to(ScalarType.Float32)).dtype);
        // it can be applied again
        WeightNorm.Apply(lin);
        Assert.Equal("wn", Reparametrization.Find(lin)!.Name);
    }

    [Fact]
    public void A_module_registered_by_a_parent_after_apply_does_not_register_its_weight_again()
    {
        var lin = Linear64(3, 2);
        WeightNorm.Apply(lin);
        var parent = new Parent(lin);
        Assert.Equal(new[] { "fc.bias", "fc.weight_g", "fc.weight_v" }, parent.named_parameters().Select(p => p.name).ToArray());
    }

    private sealed class Parent : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc;

        public Parent(Linear fc) : base("Parent")
        {
            this.fc = fc;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => fc.call(x);
    }

    [Fact]
    public void Moving_a_builtin_layer_after_apply_fails_clearly_at_the_next_forward()
    {
        var lin = Linear64(3, 2);
        WeightNorm.Apply(lin);
        lin.to(ScalarType.Float32);
        var e = Assert.Throws<InvalidOperationException>(() => lin.call(ones(1, 3)));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("move the module before applying wn", e.Message);
    }
}
