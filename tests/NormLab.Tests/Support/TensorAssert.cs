using static TorchSharp.torch;

namespace NormLab.Tests.Support;

/// <summary>Tensor comparisons with messages that show where and by how much they differ.</summary>
public static class TensorAssert
{
    /// <summary>Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise, and equal shapes.</summary>
    public static void Close(Tensor expected, Tensor actual, double rtol = 1e-10, double atol = 1e-12, string what = "tensor")
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}] != expected [{string.Join(", ", expected.shape)}]");
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        Assert.False(a.isnan().any().item<bool>() && !e.isnan().any().item<bool>(), $"{what}: contains NaN");
        var diff = (a - e).abs();
        var allowed = e.abs() * rtol + atol;
        var excess = diff - allowed;
        double worst = excess.max().item<double>();
        if (worst > 0)
        {
            long at = excess.argmax().item<long>();
            double ev = e.flatten()[at].item<double>(), av = a.flatten()[at].item<double>();
            Assert.Fail($"{what}: max |diff| = {diff.max().item<double>():E3} exceeds tolerance (rtol {rtol:E0}, atol {atol:E0}); at flat index {at}: expected {ev:R}, got {av:R}");
        }
    }

    /// <summary>True when both tensors have the same dtype, shape and values (bit-for-bit, NaN never equal).</summary>
    public static bool Same(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && (a.numel() == 0 || a.eq(b).all().item<bool>());

    /// <summary>The largest relative difference max|a − e| / max|e|.</summary>
    public static double RelativeError(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var e = expected.detach().to(ScalarType.Float64);
        var a = actual.detach().to(ScalarType.Float64);
        return (a - e).abs().max().item<double>() / Math.Max(e.abs().max().item<double>(), 1e-300);
    }
}
