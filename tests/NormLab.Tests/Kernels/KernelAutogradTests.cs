using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Layers;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// Autograd behaviour of the fused kernels beyond first derivatives: double backward (create_graph)
/// gives the composite's second derivatives, inference without grad works, and the multi-threaded
/// paths (tests otherwise run LibTorch single-threaded) give the same results.
/// </summary>
public class KernelAutogradTests
{
    public static TheoryData<string> Layers => new() { "bn", "ln", "pn", "sn", "zca", "rms" };

    private static nn.Module<Tensor, Tensor> Make(string name) => name switch
    {
        "bn" => StandardNorms.BatchNorm2d(3),
        "ln" => StandardNorms.LayerNorm(new long[] { 4, 5 }),
        "pn" => StandardNorms.PositionalNorm(3, affine: true),
        "sn" => MultiModeNorms.SwitchNorm(3),
        "zca" => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 3, group: 3),
        _ => StandardNorms.RMSNorm(new long[] { 4, 5 }),
    };

    /// <summary>A gradient penalty: L = Σ (∂(Σ y·g)/∂x)², differentiated w.r.t. x and the parameters.</summary>
    private static (Tensor Dx, Tensor[] Dparams) Penalty(nn.Module<Tensor, Tensor> layer, Tensor x0, Tensor g)
    {
        var x = x0.detach().clone().requires_grad_(true);
        var parameters = layer.parameters().Cast<Tensor>().ToArray();
        var y = layer.call(x);
        var gx = autograd.grad(new[] { (y * g).sum() }, new[] { x }, retain_graph: true, create_graph: true)[0];
        var grads = autograd.grad(new[] { gx.square().sum() }, new[] { x }.Concat(parameters).ToArray(), allow_unused: true);
        return (grads[0], grads.Skip(1).ToArray());
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void Double_backward_matches_the_composite(string name)
    {
        var reference = Make(name);
        var fused = Make(name);
        foreach (var m in new[] { reference, fused })
        {
            m.to(ScalarType.Float64);
            KernelHarness.Randomize(m, 3);
        }
        var rand = new Rand(4);
        var x = rand.Features(4, 3, 4, 5);
        var g = rand.Normal(4, 3, 4, 5);
        (Tensor, Tensor[]) expected;
        using (KernelPolicy.Use(KernelMode.Composite)) expected = Penalty(reference, x, g);
        long before = FusedKernels.Calls;
        var actual = Penalty(fused, x, g);
        Assert.True(FusedKernels.Calls > before, "the fused kernel did not run");
        TensorAssert.Close(expected.Item1, actual.Dx, 1e-9, 1e-11, "second derivative w.r.t. x");
        for (int i = 0; i < expected.Item2.Length; i++)
        {
            var e = expected.Item2[i];
            var a = actual.Dparams[i];
            if (e is null || e.IsInvalid) continue;
            TensorAssert.Close(e, a, 1e-9, 1e-11, $"second derivative w.r.t. parameter {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void Inference_without_grad_matches_the_composite(string name)
    {
        var layer = Make(name);
        layer.to(ScalarType.Float64);
        KernelHarness.Randomize(layer, 5);
        layer.eval();
        var x = new Rand(6).Features(4, 3, 4, 5);
        Tensor expected, actual;
        using (no_grad())
        {
            using (KernelPolicy.Use(KernelMode.Composite)) expected = layer.call(x);
            actual = layer.call(x);
        }
        TensorAssert.Close(expected, actual, 1e-10, 1e-12, "output");
        Assert.False(actual.requires_grad);
    }

    [Theory]
    [InlineData("bn")]
    [InlineData("gn")]
    [InlineData("ln-long")]
    [InlineData("rms-short")]
    [InlineData("pn")]
    [InlineData("sn")]
    [InlineData("zca")]
    [InlineData("iw")]
    public void Two_threads_give_the_composite_results(string name)
    {
        Func<nn.Module<Tensor, Tensor>> make = name switch
        {
            "bn" => () => StandardNorms.BatchNorm2d(8),
            "gn" => () => StandardNorms.GroupNorm(4, 8),
            "ln-long" => () => StandardNorms.LayerNorm(new long[] { 8, 48, 48 }),
            "rms-short" => () => StandardNorms.RMSNorm(new long[] { 24 }),
            "pn" => () => StandardNorms.PositionalNorm(8, affine: true),
            "sn" => () => MultiModeNorms.SwitchNorm(8),
            "zca" => () => WhiteningNorms.BatchWhitening(WhiteningMethod.Zca, 8, group: 4),
            _ => () => WhiteningNorms.InstanceWhitening(WhiteningMethod.Zca, 8, group: 4),
        };
        int previous = get_num_threads();
        set_num_threads(2);
        try
        {
            KernelHarness.Compare(make, name == "ln-long" ? new long[] { 3, 8, 48, 48 } : new long[] { 6, 8, 24, 24 }, ScalarType.Float64, trainSteps: 2);
        }
        finally
        {
            set_num_threads(previous);
        }
    }
}
