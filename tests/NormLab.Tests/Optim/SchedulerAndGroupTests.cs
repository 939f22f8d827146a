using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp.Modules;
using Adam = NormLab.Optim.Adam;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>TorchSharp's learning-rate schedulers drive the new optimizers; parameter groups carry their own options.</summary>
public class SchedulerAndGroupTests
{
    [Theory]
    [InlineData("lars(lr=0.5,weight_decay=0.01)")]
    [InlineData("lamb(lr=0.01)")]
    [InlineData("lans(lr=0.01)")]
    [InlineData("sgd(lr=0.1,momentum=0.9,gc=true)")]
    [InlineData("adamw(lr=0.01)")]
    [InlineData("gradnorm(inner=sgd(lr=0.1))")]
    public void StepLR_sets_the_rate_that_each_step_uses(string spec)
    {
        // Each step must equal the reference step at the scheduled rate: lr, lr, lr/10, lr/10, lr/100.
        var p = new Problem(steps: 5);
        var ps = p.Parameters();
        using var optimizer = OptimizerRegistry.Create(spec, ps);
        var scheduler = optim.lr_scheduler.StepLR(optimizer, step_size: 2, gamma: 0.1);
        var hyper = Hyper.FromSpec(spec);
        double lr0 = (hyper.Inner ?? hyper).Lr;
        var reference = new ReferenceOptimizer(hyper);
        var expected = p.Weights.Select(w => w.clone()).ToArray();
        for (int k = 0; k < 5; k++)
        {
            double lr = lr0 * Math.Pow(0.1, k / 2);
            Assert.Equal(lr, optimizer.ParamGroups.Single().LearningRate, 15);
            reference = Rescheduled(reference, hyper, lr);
            p.SetGrads(ps, k);
            optimizer.step();
            expected = reference.Step(expected, p.Grads[k]);
            scheduler.step();
        }
        // LARS's buffer holds lr-free directions (timm form), so the paper's v-form differs once lr changes: compare to the timm form.
        for (int i = 0; i < ps.Length; i++) TensorAssert.Close(expected[i], ps[i], rtol: 1e-12, atol: 1e-12, what: $"{spec} tensor {i}");
    }

    /// <summary>The reference at a new rate, keeping its state (a LARS buffer is kept lr-free, as NormLab's).</summary>
    private static ReferenceOptimizer Rescheduled(ReferenceOptimizer old, Hyper hyper, double lr)
    {
        var h = hyper.Inner is { } inner ? hyper with { Inner = inner with { Lr = lr } } : hyper with { Lr = lr };
        var next = new ReferenceOptimizer(h);
        for (int i = 0; i < Problem.Shapes.Length; i++)
        {
            var (a, b) = (old.State(i), next.State(i));
            (b.Buffer, b.M, b.V, b.T) = (a.Buffer, a.M, a.V, a.T);
        }
        return next;
    }

    [Fact]
    public void Cosine_annealing_reaches_its_minimum_on_lamb()
    {
        var ps = new Problem().Parameters();
        using var lamb = new Lamb(ps, lr: 0.01);
        var scheduler = optim.lr_scheduler.CosineAnnealingLR(lamb, T_max: 4, eta_min: 0.001);
        for (int k = 0; k < 4; k++) scheduler.step();
        Assert.Equal(0.001, lamb.ParamGroups.Single().LearningRate, 12);
    }

    [Fact]
    public void OneCycle_cycles_momentum_on_lars_and_betas_on_lamb()
    {
        var ps = new Problem().Parameters();
        using var lars = new Lars(ps, lr: 0.5);
        var s1 = optim.lr_scheduler.OneCycleLR(lars, max_lr: 1.0, total_steps: 10);
        s1.step();
        Assert.NotEqual(0.9, ((TorchSharp.torch.optim.IMomentum)lars.ParamGroups.Single()).Momentum);

        var qs = new Problem().Parameters();
        using var lamb = new Lamb(qs, lr: 0.01);
        var s2 = optim.lr_scheduler.OneCycleLR(lamb, max_lr: 0.05, total_steps: 10);
        s2.step();
        Assert.NotEqual(0.9, ((TorchSharp.torch.optim.IBetas)lamb.ParamGroups.Single()).Betas.Item1);
    }

    [Fact]
    public void Each_group_uses_its_own_options_and_inherits_the_rest()
    {
        var p = new Problem();
        var ps = p.Parameters();
        using var lars = new Lars(new ParamGroup[]
        {
            new ParamGroup<LarsOptions>(ps[..2], new LarsOptions { LearningRate = 0.2, eta = 0.02 }),
            new ParamGroup<LarsOptions>(ps[2..], new LarsOptions { weight_decay = 0.1, exclude_bias = true }),
        }, lr: 0.5, weight_decay: 0.01);
        var first = new ReferenceOptimizer(new Hyper("lars", 0.2, Momentum: 0.9, WeightDecay: 0.01, Eta: 0.02));
        var second = new ReferenceOptimizer(new Hyper("lars", 0.5, Momentum: 0.9, WeightDecay: 0.1, ExcludeBias: true));
        var expected = p.Weights.Select(w => w.clone()).ToArray();
        for (int k = 0; k < 3; k++)
        {
            p.SetGrads(ps, k);
            lars.step();
            var a = first.Step(expected[..2], p.Grads[k][..2]);
            var b = second.Step(expected[2..], p.Grads[k][2..]);
            expected = a.Concat(b).ToArray();
        }
        for (int i = 0; i < ps.Length; i++) TensorAssert.Close(expected[i], ps[i], rtol: 1e-12, atol: 1e-12, what: $"tensor {i}");
    }

    [Fact]
    public void A_parameter_without_a_gradient_is_skipped()
    {
        var p = new Problem();
        var ps = p.Parameters();
        using var lamb = new Lamb(ps);
        ps[0].grad = p.Grads[0][0].clone();
        lamb.step();
        Assert.True(TensorAssert.Same(p.Weights[1], ps[1].detach()));
        Assert.Equal(0, lamb.StateOf(ps[1]).step);
        Assert.Equal(1, lamb.StateOf(ps[0]).step);
    }

    [Fact]
    public void Zero_grad_and_the_closure_work_as_in_torchsharp()
    {
        var p = new Problem();
        var ps = p.Parameters();
        using var sgd = new Sgd(ps, lr: 0.1);
        var target = p.Grads[0][0];
        var loss = sgd.step(() =>
        {
            sgd.zero_grad();
            var l = (ps[0] - target).square().sum();
            l.backward();
            return l;
        });
        Assert.True(loss.item<double>() > 0);
        TensorAssert.Close(p.Weights[0] - 0.1 * 2 * (p.Weights[0] - target), ps[0], rtol: 1e-14, atol: 1e-15);
        sgd.zero_grad();
        Assert.Equal(0.0, ps[0].grad!.abs().sum().item<double>());
    }

    [Fact]
    public void Gradnorm_delegates_groups_and_schedules_to_its_inner_optimizer()
    {
        var ps = new Problem().Parameters();
        using var wrapped = new LayerwiseGradNorm(new Adam(ps, lr: 0.01));
        var scheduler = optim.lr_scheduler.StepLR(wrapped, step_size: 1, gamma: 0.5);
        scheduler.step();
        Assert.Equal(0.005, wrapped.Inner.ParamGroups.Single().LearningRate, 15);
        Assert.Equal(ps.Length, wrapped.parameters().Count());
        var extra = new Parameter(ones(2, ScalarType.Float64), requires_grad: true);
        wrapped.add_param_group(new ParamGroup<AdamOptions>(new[] { extra }));
        Assert.Equal(2, wrapped.ParamGroups.Count());
        Assert.Equal(0, wrapped.StateOf(extra).step);
    }

    [Fact]
    public void Gradnorm_wraps_torchsharps_own_optimizers()
    {
        var p = new Problem();
        var ps = p.Parameters();
        using var wrapped = new LayerwiseGradNorm(optim.SGD(ps, 0.1));
        p.SetGrads(ps, 0);
        wrapped.step();
        for (int i = 0; i < ps.Length; i++)
            TensorAssert.Close(p.Weights[i] - 0.1 * p.Grads[0][i] / ReferenceOptimizer.Norm(p.Grads[0][i]), ps[i], rtol: 1e-13, atol: 1e-15);
        Assert.Throws<NotSupportedException>(() => wrapped.StateOf(ps[0]));
    }
}
