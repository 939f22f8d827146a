using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>
/// Re-initializes conv and linear layers from a private generator with PyTorch's default distribution,
/// so a model is reproducible without the process-wide <c>torch.manual_seed</c>.
/// </summary>
internal static class SeededInit
{
    /// <summary>
    /// For each layer in order: weight and bias ~ U(−1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.numel()/out
    /// (PyTorch's default for <c>Conv2d</c> and <c>Linear</c>: kaiming_uniform with a = sqrt(5), and its bias rule).
    /// </summary>
    public static void Apply(IEnumerable<nn.Module> layers, long seed)
    {
        var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var layer in layers)
        {
            var weight = layer.get_parameter("weight") ?? throw new InvalidOperationException($"{layer.GetName()} has no weight");
            double bound = 1 / Math.Sqrt(weight.numel() / weight.shape[0]);
            // Tensor.uniform_, not nn.init.uniform_: TorchSharp 0.107's nn.init.uniform_ ignores its generator.
            weight.uniform_(-bound, bound, gen);
            layer.get_parameter("bias")?.uniform_(-bound, bound, gen);
        }
    }
}
