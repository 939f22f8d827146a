using NormLab.Optim;
using NormLab.Registry;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Optim;

/// <summary>Gradient centralization as a standalone transform, and its equivalence with the <c>gc</c> option.</summary>
public class GradientCentralizationTests
{
    [Fact]
    public void Centralize_subtracts_the_mean_over_all_dims_but_the_first_for_rank_above_one()
    {
        var p = new Problem();
        var ps = p.Parameters();
        p.SetGrads(ps, 0);
        GradientCentralization.centralize_(ps);
        for (int i = 0; i < ps.Length; i++)
            TensorAssert.Close(ReferenceOptimizer.Centralize(p.Grads[0][i]), ps[i].grad!, rtol: 1e-14, atol: 1e-14, what: $"tensor {i}");
        // Every output unit's gradient now has zero mean; the rank-1 bias is unchanged.
        TensorAssert.Close(zeros(3, ScalarType.Float64), ps[1].grad!.reshape(3, -1).mean(new long[] { 1 }), atol: 1e-13);
        Assert.True(TensorAssert.Same(p.Grads[0][2], ps[2].grad!));
    }

    [Fact]
    public void Centralize_leaves_scalars_and_vectors_alone()
    {
        var v = new Rand(1).Normal(5);
        Assert.Same(v, GradientCentralization.Centralize(v));
        var s = tensor(3.0);
        Assert.Same(s, GradientCentralization.Centralize(s));
    }

    [Theory]
    [InlineData("sgd(lr=0.1,momentum=0.9)")]
    [InlineData("adam(lr=0.01)")]
    [InlineData("adamw(lr=0.01)")]
    [InlineData("lars(lr=0.5,weight_decay=0.01)")]
    [InlineData("lamb(lr=0.01)")]
    public void The_gc_option_equals_the_standalone_transform_before_the_step(string spec)
    {
        // With no L2 term added to the gradient first (AdamW, LARS and LAMB centralize the raw gradient), the two agree.
        var p = new Problem(steps: 3);
        var option = p.Parameters();
        var standalone = p.Parameters();
        using var a = OptimizerRegistry.Create(spec.Replace(")", ",gc=true)"), option);
        using var b = OptimizerRegistry.Create(spec, standalone);
        for (int k = 0; k < 3; k++)
        {
            p.SetGrads(option, k);
            p.SetGrads(standalone, k);
            GradientCentralization.centralize_(standalone);
            a.step();
            b.step();
        }
        for (int i = 0; i < option.Length; i++) TensorAssert.Close(standalone[i], option[i], rtol: 1e-12, atol: 1e-12, what: $"{spec} tensor {i}");
    }

    [Fact]
    public void The_gc_option_does_not_modify_the_gradient()
    {
        var p = new Problem();
        var ps = p.Parameters();
        using var sgd = OptimizerRegistry.Create("sgd(lr=0.1,gc=true)", ps);
        p.SetGrads(ps, 0);
        sgd.step();
        for (int i = 0; i < ps.Length; i++) Assert.True(TensorAssert.Same(p.Grads[0][i], ps[i].grad!));
    }
}
