using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>What happens to the loss and the gradient of a weight when it is scaled W → αW.</summary>
/// <param name="Alpha">α.</param>
/// <param name="Loss">L(W).</param>
/// <param name="ScaledLoss">L(αW).</param>
/// <param name="GradientNorm">‖∂L/∂W‖ at W.</param>
/// <param name="ScaledGradientNorm">‖∂L/∂W‖ at αW.</param>
/// <param name="GradientRelativeError">‖α·g(αW) − g(W)‖ / ‖g(W)‖: 0 when the gradient scales exactly by 1/α.</param>
public sealed record ScaleInvarianceReport(double Alpha, double Loss, double ScaledLoss, double GradientNorm, double ScaledGradientNorm, double GradientRelativeError)
{
    /// <summary>|L(αW) − L(W)| / max(|L(W)|, tiny).</summary>
    public double LossRelativeChange => Math.Abs(ScaledLoss - Loss) / Math.Max(Math.Abs(Loss), 1e-300);
}

/// <summary>
/// Scale invariance (survey §5.1): a weight feeding a normalized layer can be scaled without changing
/// the loss, L(αW) = L(W), and then its gradient scales inversely, ∂L/∂W(αW) = ∂L/∂W(W)/α, so the
/// effective learning rate of W is lr/‖W‖².
/// </summary>
public static class ScaleInvariance
{
    /// <summary>Measures the loss and the gradient of <paramref name="weight"/> at W and at αW (the weight is restored).</summary>
    /// <exception cref="ArgumentException">α not positive and finite.</exception>
    public static ScaleInvarianceReport Check(Func<Tensor> loss, Tensor weight, double alpha)
    {
        Checks.Positive(alpha, nameof(alpha));
        using var scope = NewDisposeScope();
        var original = weight.detach().clone();
        try
        {
            var (l0, g0) = LossAndGradient(loss, weight);
            using (no_grad()) weight.mul_(alpha);
            var (l1, g1) = LossAndGradient(loss, weight);
            double norm0 = g0.norm().ToDouble();
            double error = (g1 * alpha - g0).norm().ToDouble() / Math.Max(norm0, 1e-300);
            return new ScaleInvarianceReport(alpha, l0, l1, norm0, g1.norm().ToDouble(), error);
        }
        finally
        {
            using (no_grad()) weight.copy_(original);
        }
    }

    /// <summary>The effective learning rate lr/‖W‖² of a scale-invariant weight.</summary>
    public static double EffectiveLearningRate(double learningRate, Tensor weight)
    {
        double norm = weight.detach().norm().ToDouble();
        return learningRate / (norm * norm);
    }

    private static (double Loss, Tensor Gradient) LossAndGradient(Func<Tensor> loss, Tensor weight)
    {
        var value = loss();
        var grad = autograd.grad(new[] { value }, new[] { weight }, allow_unused: true)[0];
        return (value.ToDouble(), grad is null || grad.IsInvalid ? zeros_like(weight) : grad.detach());
    }
}
