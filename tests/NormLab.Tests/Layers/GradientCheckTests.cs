using NormLab.Framework;
using NormLab.Registry;
using NormLab.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Tests.Layers;

/// <summary>Finite-difference gradient checks in float64 for every standard normalizer, in train and eval mode.</summary>
public class GradientCheckTests
{
    [Theory]
    [InlineData("bn")]
    [InlineData("ln")]
    [InlineData("ln(dims=1)")]
    [InlineData("in(affine=true,track_running_stats=true)")]
    [InlineData("gn(groups=2)")]
    [InlineData("bgn(groups=2)")]
    [InlineData("pn(affine=true)")]
    [InlineData("rms")]
    [InlineData("rms(dims=1,eps=1e-3)")]
    [InlineData("meanbn")]
    public void Gradients_match_finite_differences(string spec)
    {
        foreach (var mode in new[] { KernelMode.Composite, KernelMode.Auto })
        foreach (var train in new[] { true, false })
        {
            using var _ = KernelPolicy.Use(mode);
            var layer = NormRegistry.Create(spec, 4, 3, 3);
            layer.to(ScalarType.Float64);
            NativeConformanceTests.Randomize(layer, 21);
            var x = new Rand(22).Features(3, 4, 3, 3);
            if (!train)
            {
                using (no_grad()) layer.call(x);
                layer.eval();
            }
            GradCheck.Module(layer, x);
        }
    }
}
