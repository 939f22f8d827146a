using NormLab.Tests.Support;
using NormLab.Weights;
using static TorchSharp.torch;

namespace NormLab.Tests.Weights;

/// <summary>
/// Runs a weight normalizer on a bare float64 weight through the real mechanism and compares the effective
/// weight and every parameter gradient with an independent reference written in a test.
/// </summary>
internal static class WeightProbe
{
    /// <summary>A reparametrized holder of <paramref name="w"/>.</summary>
    public static WeightHolder Holder(WeightNormalizer method, Tensor w) => Reparametrization.Apply(new WeightHolder(w), method);

    /// <summary>
    /// Forward and backward of sum(W_eff·G) through the holder, and the same through
    /// <paramref name="reference"/>, which receives float64 leaf copies of the parameters and copies of the
    /// buffers as they were before the forward; outputs and gradients must agree to <paramref name="rtol"/>.
    /// </summary>
    public static void MatchesReference(WeightHolder holder, Func<IReadOnlyDictionary<string, Tensor>, Tensor> reference,
        double rtol = 1e-10, double atol = 1e-12, long seed = 77)
    {
        var state = holder.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone().requires_grad_(true));
        foreach (var (name, b) in holder.named_buffers()) state[name] = b.detach().clone();
        var y = holder.call();
        var g = new Rand(seed).Normal(y.shape);
        (y * g).sum().backward();
        var expected = reference(state);
        (expected * g).sum().backward();
        TensorAssert.Close(expected, y, rtol, atol, "effective weight");
        foreach (var (name, p) in holder.named_parameters())
            TensorAssert.Close(state[name].grad!, p.grad!, rtol, atol, $"gradient of {name}");
    }

    /// <summary>Central finite differences against autograd for every parameter of the holder.</summary>
    public static void FiniteDifferences(WeightHolder holder, double rtol = 1e-5, double atol = 1e-7) =>
        GradCheck.Check(_ => holder.call(), Array.Empty<Tensor>(), holder, rtol: rtol, atol: atol);

    /// <summary>Multiplies a parameter in place (to move g away from its initial value).</summary>
    public static void Scale(WeightHolder holder, string name, Tensor factor)
    {
        using var _ = no_grad();
        holder.get_parameter(name)!.mul_(factor);
    }
}
