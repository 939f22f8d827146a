using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Support;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace NormLab.Tests.Optim;

/// <summary>
/// Every optimizer and every option against the papers' update rules written out in
/// <see cref="ReferenceOptimizer"/>: parameters and state agree in float64 to 1e-12 after one step and
/// after each of five steps (gradients differ per step and per tensor by orders of magnitude).
/// </summary>
public class UpdateRuleTests
{
    public static TheoryData<string> Specs => new()
    {
        "sgd(lr=0.1)",
        "sgd(lr=0.1,momentum=0.9)",
        "sgd(lr=0.1,momentum=0.9,nesterov=true)",
        "sgd(lr=0.1,weight_decay=0.01)",
        "sgd(lr=0.1,gc=true)",
        "sgd(lr=0.05,momentum=0.8,nesterov=true,weight_decay=0.05,gc=true)",
        "adam(lr=0.01)",
        "adam(lr=0.01,weight_decay=0.1)",
        "adam(lr=0.01,gc=true)",
        "adam(lr=0.01,beta1=0.5,beta2=0.9,eps=0.001,weight_decay=0.1,gc=true)",
        "adamw(lr=0.01)",
        "adamw(lr=0.01,weight_decay=0,gc=true)",
        "adamw(lr=0.01,beta1=0.8,beta2=0.95,eps=1e-4,weight_decay=0.2,gc=true)",
        "lars(lr=0.5)",
        "lars(lr=0.5,momentum=0)",
        "lars(lr=0.5,nesterov=true)",
        "lars(lr=0.5,weight_decay=0.01)",
        "lars(lr=0.5,eta=0.02,weight_decay=0.01,exclude_bias=true)",
        "lars(lr=0.01,eta=0.01,clip=true)",
        "lars(lr=0.5,gc=true)",
        "lars(lr=0.2,momentum=0.9,nesterov=true,weight_decay=0.01,eta=0.01,exclude_bias=true,clip=true,gc=true)",
        "lamb(lr=0.01)",
        "lamb(lr=0.01,weight_decay=0)",
        "lamb(lr=0.01,clamp=2.5)",
        "lamb(lr=0.01,gc=true)",
        "lamb(lr=0.01,beta1=0.8,beta2=0.9,eps=1e-4,weight_decay=0.1,clamp=2.5,gc=true)",
        "lans(lr=0.01)",
        "lans(lr=0.01,weight_decay=0.1)",
        "lans(lr=0.01,beta1=0.7,beta2=0.9,eps=0.001,weight_decay=0.05)",
        "gradnorm",
        "gradnorm(inner=sgd(lr=0.1,momentum=0.9,nesterov=true))",
        "gradnorm(inner=adam(lr=0.01,weight_decay=0.1))",
        "gradnorm(inner=lars(lr=0.5,weight_decay=0.01))",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Single_step_matches_the_paper_rule(string spec) =>
        new Problem().AssertMatches(ps => OptimizerRegistry.Create(spec, ps), Hyper.FromSpec(spec), steps: 1);

    [Theory]
    [MemberData(nameof(Specs))]
    public void Five_steps_match_the_paper_rule(string spec) =>
        new Problem().AssertMatches(ps => OptimizerRegistry.Create(spec, ps), Hyper.FromSpec(spec), steps: 5);

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Lamb_exclude_bias_gives_rank_one_tensors_a_plain_adam_step(int steps) =>
        new Problem().AssertMatches(ps => new Lamb(ps, lr: 0.01, weight_decay: 0.1, exclude_bias: true),
            new Hyper("lamb", 0.01, WeightDecay: 0.1, ExcludeBias: true, Eps: 1e-6), steps);

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Lans_with_gradient_centralization_centralizes_before_normalizing(int steps) =>
        new Problem().AssertMatches(ps => new Lans(ps, lr: 0.01, weight_decay: 0.05, gc: true),
            new Hyper("lans", 0.01, WeightDecay: 0.05, Gc: true, Eps: 1e-6), steps);

    [Fact]
    public void Lars_clip_is_active_on_some_tensors_and_inactive_on_others()
    {
        // Guards the clip spec above against testing only one branch: local/lr must straddle 1.
        var p = new Problem();
        double lr = 0.01, eta = 0.01;
        var ratios = p.Weights.Select((w, i) => eta * ReferenceOptimizer.Norm(w) / ReferenceOptimizer.Norm(p.Grads[0][i]) / lr).ToArray();
        Assert.Contains(ratios, r => r > 1);
        Assert.Contains(ratios, r => r < 1);
    }

    [Theory]
    [InlineData("sgd(lr=0.1,momentum=0.9,nesterov=true,weight_decay=0.01)")]
    [InlineData("adam(lr=0.01,weight_decay=0.1)")]
    [InlineData("adamw(lr=0.01,weight_decay=0.1)")]
    public void Without_gc_the_optimizer_agrees_with_torchsharps_own(string spec)
    {
        var p = new Problem();
        var ours = p.Parameters();
        var theirs = p.Parameters();
        using var a = OptimizerRegistry.Create(spec, ours);
        var h = Hyper.FromSpec(spec);
        using TorchSharp.Modules.OptimizerHelper b = h.Kind switch
        {
            "sgd" => optim.SGD(theirs, h.Lr, h.Momentum, weight_decay: h.WeightDecay, nesterov: h.Nesterov),
            "adam" => optim.Adam(theirs, h.Lr, h.Beta1, h.Beta2, h.Eps, h.WeightDecay),
            _ => optim.AdamW(theirs, h.Lr, h.Beta1, h.Beta2, h.Eps, h.WeightDecay),
        };
        for (int k = 0; k < 5; k++)
        {
            p.SetGrads(ours, k);
            p.SetGrads(theirs, k);
            a.step();
            b.step();
        }
        for (int i = 0; i < ours.Length; i++) TensorAssert.Close(theirs[i], ours[i], rtol: 1e-12, atol: 1e-12, what: $"{spec} tensor {i}");
    }

    [Fact]
    public void Lars_timm_form_equals_the_paper_form_only_while_lr_is_constant()
    {
        // Documented deviation: NormLab's buffer holds lr-free directions (timm), so a new lr rescales past momentum.
        var p = new Problem();
        var ps = p.Parameters();
        using var lars = new Lars(ps, lr: 0.5, weight_decay: 0.01);
        var reference = new ReferenceOptimizer(new Hyper("lars", 0.5, Momentum: 0.9, WeightDecay: 0.01));
        var expected = p.Weights.Select(w => w.clone()).ToArray();
        p.SetGrads(ps, 0);
        lars.step();
        expected = reference.Step(expected, p.Grads[0]);
        lars.ParamGroups.First().LearningRate = 0.25;
        p.SetGrads(ps, 1);
        lars.step();
        var paper = new ReferenceOptimizer(new Hyper("lars", 0.25, Momentum: 0.9, WeightDecay: 0.01));
        paper.State(0).Buffer = reference.State(0).Buffer! * 2; // paper's v = 0.5·buf carried over, expressed as v/0.25
        var paperNext = paper.Step(new[] { expected[0] }, new[] { p.Grads[1][0] })[0];
        Assert.True(TensorAssert.RelativeError(paperNext, ps[0]) > 1e-8, "changing lr should separate the two forms");
    }
}
