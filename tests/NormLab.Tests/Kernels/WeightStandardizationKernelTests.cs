using NormLab.Framework;
using NormLab.Kernels;
using NormLab.Tests.Support;
using static TorchSharp.torch;

namespace NormLab.Tests.Kernels;

/// <summary>
/// The fused weight-standardization kernel against the plain formula (both eps forms): values and
/// weight gradients in float64 (1e-10) and float32 (1e-4), odd row lengths, strided weights; and the
/// cases where it declines.
/// </summary>
public class WeightStandardizationKernelTests
{
    /// <summary>The formula: rows centered, divided by sqrt(Σc²/(d − 1)) + eps (official) or sqrt(Σc²/d + eps).</summary>
    private static Tensor Formula(Tensor w, double eps, bool official)
    {
        var rows = w.reshape(w.shape[0], -1);
        long d = rows.shape[1];
        var c = rows - rows.mean(new long[] { 1 }, keepdim: true);
        var squares = c.square().sum(new long[] { 1 }, keepdim: true);
        var scale = official ? (squares / (d - 1)).sqrt() + eps : (squares / d + eps).sqrt();
        return (c / scale).reshape(w.shape);
    }

    [Theory]
    [InlineData(new long[] { 6, 3, 3, 3 }, true, ScalarType.Float64)]
    [InlineData(new long[] { 6, 3, 3, 3 }, false, ScalarType.Float64)]
    [InlineData(new long[] { 5, 7 }, true, ScalarType.Float64)]
    [InlineData(new long[] { 4, 1, 1, 2 }, false, ScalarType.Float64)]
    [InlineData(new long[] { 9, 5, 3, 3 }, true, ScalarType.Float32)]
    [InlineData(new long[] { 3, 37 }, false, ScalarType.Float32)]
    public void Fused_matches_the_formula(long[] shape, bool official, ScalarType dtype)
    {
        double eps = official ? 1e-5 : 1e-6;
        var rand = new Rand(shape.Length * 10 + (official ? 1 : 2));
        var w0 = rand.Normal(shape) * 0.3 + 0.1;
        var g = rand.Normal(shape).to(dtype);
        var wf = w0.to(dtype).requires_grad_(true);
        var wr = w0.to(dtype).requires_grad_(true);
        long before = FusedKernels.Calls;
        var yf = FusedWeightStandardization.TryApply(wf, eps, official);
        Assert.NotNull(yf);
        Assert.True(FusedKernels.Calls > before);
        var yr = Formula(wr, eps, official);
        var (rtol, atol) = KernelHarness.Tolerance(dtype);
        TensorAssert.Close(yr, yf!, rtol, atol, "standardized weight");
        (yf! * g).sum().backward();
        (yr * g).sum().backward();
        TensorAssert.Close(wr.grad!, wf.grad!, rtol, atol, "weight gradient");
    }

    [Fact]
    public void Strided_weight_is_made_contiguous()
    {
        var w0 = new Rand(3).Normal(7, 4);
        var wf = w0.detach().clone().requires_grad_(true);
        var wr = w0.detach().clone().requires_grad_(true);
        var yf = FusedWeightStandardization.TryApply(wf.t(), 1e-5, true)!;
        var yr = Formula(wr.t(), 1e-5, true);
        TensorAssert.Close(yr, yf, 1e-10, 1e-12, "standardized weight");
        yf.square().sum().backward();
        yr.square().sum().backward();
        TensorAssert.Close(wr.grad!, wf.grad!, 1e-10, 1e-12, "weight gradient");
    }

    [Fact]
    public void Declines_when_the_policy_is_not_auto_or_rows_are_too_short()
    {
        var w = new Rand(4).Normal(4, 3, 3, 3);
        using (KernelPolicy.Use(KernelMode.Composite)) Assert.Null(FusedWeightStandardization.TryApply(w, 1e-5, true));
        using (KernelPolicy.Use(KernelMode.Native)) Assert.Null(FusedWeightStandardization.TryApply(w, 1e-5, true));
        Assert.Null(FusedWeightStandardization.TryApply(new Rand(5).Normal(4, 1), 1e-5, true));
        Assert.Null(FusedWeightStandardization.TryApply(new Rand(6).Normal(4, 3).to(ScalarType.Int64), 1e-5, true));
    }

    [Fact]
    public void Negative_eps_is_rejected_with_a_one_line_message()
    {
        var e = Assert.Throws<ArgumentException>(() => FusedWeightStandardization.TryApply(new Rand(7).Normal(4, 3), -1, true));
        Assert.Contains("eps (-1) must be a finite number >= 0", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
