using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// Runs two identically initialized layers side by side, one with the composite reference and one
/// with the automatic (fused) kernel, over several training steps and an eval step, and compares
/// outputs, input and parameter gradients, and every buffer. It also checks that the fused kernel
/// really ran, so a kernel that silently declines fails the test.
/// </summary>
public static class KernelHarness
{
    /// <summary>Tolerances: 1e-10 relative in float64, 1e-4 in float32.</summary>
    internal static (double Rtol, double Atol) Tolerance(ScalarType dtype) =>
        dtype == ScalarType.Float64 ? (1e-10, 1e-11) : (1e-4, 1e-5);

    /// <summary>How the test input is laid out in memory.</summary>
    public enum Layout
    {
        /// <summary>Contiguous.</summary>
        Contiguous,
        /// <summary>Channels last: the channel dim is innermost in memory.</summary>
        ChannelsLast,
        /// <summary>The last two dims transposed (a strided view).</summary>
        Transposed,
    }

    /// <summary>A seeded input of <paramref name="shape"/> in <paramref name="dtype"/>, laid out as asked (values do not depend on the layout).</summary>
    internal static Tensor Input(Rand rand, long[] shape, ScalarType dtype, Layout layout)
    {
        var x = rand.Features(shape).to(dtype);
        return layout switch
        {
            Layout.ChannelsLast => x.movedim(new long[] { 1 }, new long[] { -1 }).contiguous().movedim(new long[] { -1 }, new long[] { 1 }),
            Layout.Transposed => x.transpose(-1, -2).contiguous().transpose(-1, -2),
            _ => x,
        };
    }

    /// <summary>
    /// Compares a composite and a fused run of <paramref name="make"/>: <paramref name="trainSteps"/>
    /// training steps (running statistics included), then one eval step.
    /// </summary>
    internal static void Compare(Func<nn.Module<Tensor, Tensor>> make, long[] shape, ScalarType dtype, Layout layout = Layout.Contiguous,
        int trainSteps = 3, bool eval = true, long seed = 1, bool expectFused = true)
    {
        var reference = make();
        var fused = make();
        foreach (var m in new[] { reference, fused })
        {
            m.to(dtype);
            Randomize(m, seed);
        }
        var (rtol, atol) = Tolerance(dtype);
        var rand = new Rand(seed + 100);
        long before = FusedKernels.Calls;
        for (int step = 0; step < trainSteps + (eval ? 1 : 0); step++)
        {
            bool train = step < trainSteps;
            reference.train(train);
            fused.train(train);
            var x = Input(rand, shape, dtype, layout);
            var g = rand.Normal(shape).to(dtype);
            string what = train ? $"train step {step + 1}" : "eval";
            Step(reference, fused, x, g, rtol, atol, what);
        }
        if (expectFused)
            Assert.True(FusedKernels.Calls > before, "the fused kernel did not run (it declined the input)");
        else
            Assert.Equal(before, FusedKernels.Calls);
    }

    private static void Step(nn.Module<Tensor, Tensor> reference, nn.Module<Tensor, Tensor> fused, Tensor x, Tensor g, double rtol, double atol, string what)
    {
        var xr = x.detach().clone().requires_grad_(true);
        var xf = x.detach().requires_grad_(true);
        reference.zero_grad();
        fused.zero_grad();
        Tensor yr, yf;
        using (KernelPolicy.Use(KernelMode.Composite)) yr = reference.call(xr);
        using (KernelPolicy.Use(KernelMode.Auto)) yf = fused.call(xf);
        TensorAssert.Close(yr, yf, rtol, atol, $"{what}: output");
        (yr * g).sum().backward();
        (yf * g).sum().backward();
        TensorAssert.Close(xr.grad!, xf.grad!, rtol, atol, $"{what}: input gradient");
        var pf = fused.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in reference.named_parameters())
        {
            Assert.True(pf[name].grad is not null, $"{what}: no gradient for {name}");
            TensorAssert.Close(p.grad!, pf[name].grad!, rtol, atol, $"{what}: gradient of {name}");
        }
        var bf = fused.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var (name, b) in reference.named_buffers())
            TensorAssert.Close(b, bf[name], rtol, atol, $"{what}: buffer {name}");
    }

    /// <summary>Non-trivial γ, β and other parameters, the same for both layers.</summary>
    internal static void Randomize(nn.Module layer, long seed)
    {
        var rand = new Rand(seed);
        using var _ = no_grad();
        foreach (var (name, p) in layer.named_parameters())
            p.copy_(rand.Uniform(name == "weight" ? 0.5 : -1, name == "weight" ? 2 : 1, p.shape).to(p.dtype));
    }
}
