using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormLab.Optim;

/// <summary>
/// Gradient centralization (Yong, Huang, Hua and Zhang 2020, "Gradient Centralization: A New Optimization
/// Technique for Deep Neural Networks"): Φ(g) = g − mean over all dims but dim 0 of g, for every gradient
/// of rank > 1 (each output unit's incoming gradient gets zero mean); rank-0 and rank-1 gradients
/// (biases, normalization parameters) are unchanged.
/// </summary>
/// <remarks>
/// Matches <c>centralized_gradient</c> of the reference code (Yonghongwei/Gradient-Centralization) with
/// its default of conv and linear layers alike (<c>gc_conv_only=False</c>). Use it standalone, like
/// <c>clip_grad_norm_</c>, between <c>backward()</c> and <c>step()</c>, or as the <c>gc</c> option of
/// every NormLab optimizer (which leaves <c>p.grad</c> untouched).
/// </remarks>
public static class GradientCentralization
{
    /// <summary>Returns Φ(g): g minus its mean over dims 1..n−1 when g has rank > 1, else g itself.</summary>
    public static Tensor Centralize(Tensor grad)
    {
        if (grad.dim() <= 1) return grad;
        var dims = Enumerable.Range(1, (int)grad.dim() - 1).Select(d => (long)d).ToArray();
        return grad - grad.mean(dims, keepdim: true);
    }

    /// <summary>Centralizes, in place, the gradient of every parameter that has one (the standalone transform).</summary>
    /// <param name="parameters">Parameters whose <c>.grad</c> to centralize; those without a gradient are skipped.</param>
    public static void centralize_(IEnumerable<Parameter> parameters)
    {
        using var _ = no_grad();
        foreach (var p in parameters)
        {
            using var scope = NewDisposeScope();
            if (p.grad is { } g && g.dim() > 1)
                g.sub_(g.mean(Enumerable.Range(1, (int)g.dim() - 1).Select(d => (long)d).ToArray(), keepdim: true));
        }
    }
}
