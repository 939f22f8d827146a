using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Support;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>
/// The documented 0-norm fallbacks: a zero weight, a zero gradient and a zero update give no NaN and
/// exactly the fallback step (trust ratio 1; LANS and gradnorm normalize a zero gradient to zero).
/// </summary>
public class ZeroNormTests
{
    private static Tensor StepOnce(string spec, Tensor w, Tensor g)
    {
        var p = new Parameter(w.clone(), requires_grad: true);
        using var optimizer = OptimizerRegistry.Create(spec, new[] { p });
        p.grad = g.clone();
        optimizer.step();
        Assert.False(p.isnan().any().item<bool>(), $"{spec}: NaN in the parameter");
        foreach (var key in optimizer.StateOf(p).Keys)
            if (optimizer.StateOf(p)[key] is { } s) Assert.False(s.isnan().any().item<bool>(), $"{spec}: NaN in state {key}");
        return p.detach().clone();
    }

    private static readonly Tensor W = new Rand(3).Normal(3, 4);
    private static readonly Tensor G = new Rand(4).Normal(3, 4);
    private static Tensor Zero => zeros(3, 4, ScalarType.Float64);

    // LARS: local_lr = 1 when ‖w‖ = 0 or ‖g‖ = 0, so the step is lr·(g + λw).

    [Fact]
    public void Lars_zero_weight_takes_the_plain_sgd_step() =>
        TensorAssert.Close(-0.5 * G, StepOnce("lars(lr=0.5,weight_decay=0.1)", Zero, G), rtol: 1e-15, atol: 0);

    [Fact]
    public void Lars_zero_gradient_takes_only_the_decay_step() =>
        TensorAssert.Close(W - 0.5 * 0.1 * W, StepOnce("lars(lr=0.5,weight_decay=0.1)", W, Zero), rtol: 1e-15, atol: 0);

    [Fact]
    public void Lars_zero_update_leaves_the_weight_unchanged() =>
        Assert.True(TensorAssert.Same(W, StepOnce("lars(lr=0.5)", W, Zero)));

    [Fact]
    public void Lars_clip_after_the_zero_norm_rule_caps_the_local_rate_at_one() =>
        TensorAssert.Close(-0.5 * G, StepOnce("lars(lr=0.5,clip=true)", Zero, G), rtol: 1e-15, atol: 0);

    // LAMB: trust = 1 when ‖w‖ = 0 or ‖u‖ = 0.

    [Fact]
    public void Lamb_zero_weight_takes_the_untrusted_adam_step()
    {
        // t = 1: m̂ = g, v̂ = g², so r = g/(|g| + eps) and u = r (λ·0 = 0).
        var expected = -0.01 * G / (G.abs() + 1e-6);
        TensorAssert.Close(expected, StepOnce("lamb(lr=0.01,weight_decay=0.1)", Zero, G), rtol: 1e-14, atol: 0);
    }

    [Fact]
    public void Lamb_zero_gradient_trusts_the_decay_term()
    {
        // r = 0, u = λw, trust = ‖w‖/‖λw‖ = 1/λ: w ← w − lr·w.
        TensorAssert.Close(W * (1 - 0.01), StepOnce("lamb(lr=0.01,weight_decay=0.1)", W, Zero), rtol: 1e-14, atol: 0);
    }

    [Fact]
    public void Lamb_zero_update_leaves_the_weight_unchanged() =>
        Assert.True(TensorAssert.Same(W, StepOnce("lamb(lr=0.01,weight_decay=0)", W, Zero)));

    // LANS: a zero gradient normalizes to zero (the reference would produce NaN); both trust ratios follow the 0-norm rule.

    [Fact]
    public void Lans_zero_gradient_normalizes_to_zero_and_trusts_the_decay_term()
    {
        // ĝ = 0, m = v = 0: r = c = λw, both trust ratios 1/λ: w ← w − lr·(β1 + 1 − β1)·w.
        TensorAssert.Close(W * (1 - 0.01), StepOnce("lans(lr=0.01,weight_decay=0.1)", W, Zero), rtol: 1e-14, atol: 0);
    }

    [Fact]
    public void Lans_zero_update_leaves_the_weight_unchanged() =>
        Assert.True(TensorAssert.Same(W, StepOnce("lans(lr=0.01)", W, Zero)));

    [Fact]
    public void Lans_zero_weight_takes_the_untrusted_step()
    {
        // t = 1: ĝ = g/‖g‖, m̂ = ĝ, √v̂ = |ĝ|, r = c = ĝ/(|ĝ| + eps), both ratios 1.
        var gHat = G / ReferenceOptimizer.Norm(G);
        var expected = -0.01 * gHat / (gHat.abs() + 1e-6);
        TensorAssert.Close(expected, StepOnce("lans(lr=0.01,weight_decay=0.1)", Zero, G), rtol: 1e-14, atol: 1e-18);
    }

    [Fact]
    public void Gradnorm_zero_gradient_stays_zero() =>
        Assert.True(TensorAssert.Same(W, StepOnce("gradnorm(inner=sgd(lr=0.1))", W, Zero)));

    [Fact]
    public void Gradnorm_zero_weight_takes_a_unit_norm_step() =>
        TensorAssert.Close(-0.1 * G / ReferenceOptimizer.Norm(G), StepOnce("gradnorm(inner=sgd(lr=0.1))", Zero, G), rtol: 1e-14, atol: 0);

    [Fact]
    public void Zero_weight_and_zero_gradient_together_stay_finite_for_every_optimizer()
    {
        foreach (var entry in OptimizerRegistry.Entries)
            Assert.True(TensorAssert.Same(Zero, StepOnce(entry.Name, Zero, Zero)), $"{entry.Name} moved a zero weight with a zero gradient");
    }
}
