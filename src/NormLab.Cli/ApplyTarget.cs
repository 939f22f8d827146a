using NormLab.Registry;
using NormLab.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli;

/// <summary>
/// What <c>normlab apply</c> runs: a module, the tensor read from <c>--input</c> whose gradient is written as
/// <c>grad_input.npy</c>, and the forward that produces <c>y.npy</c>.
/// </summary>
internal sealed record ApplyTarget(nn.Module Module, Tensor Input, Func<Tensor> Forward, string Description)
{
    /// <summary>An activation normalizer on an input [N, C, *spatial], with its condition when it is conditional.</summary>
    public static ApplyTarget Normalizer(string spec, Tensor x, Tensor? condition)
    {
        if (x.dim() < 2)
            throw new ArgumentException($"--input must be [N, C, *spatial] with at least 2 dims, got shape {TensorFiles.Shape(x)}");
        if (condition is not null && condition.dim() < 1)
            throw new ArgumentException($"--cond must have a batch dim, got shape {TensorFiles.Shape(condition)}");
        var module = NormRegistry.CreateAny(spec, x.shape[1..], condition?.shape[1..]);
        module.to(x.dtype);
        x.requires_grad_(true);
        Func<Tensor> forward = module switch
        {
            nn.Module<Tensor, Tensor> plain => () => plain.call(x),
            nn.Module<Tensor, Tensor, Tensor> conditional => () => conditional.call(x, condition!),
            _ => throw new InvalidOperationException($"'{spec}' built an unexpected module type {module.GetType().Name}"),
        };
        return new(module, x, forward, $"{spec} on {TensorFiles.Shape(x)}");
    }

    /// <summary>
    /// A weight normalizer on a raw weight: the input becomes the method's raw parameter (<c>weight_v</c>,
    /// <c>weight_orig</c>) of a <see cref="WeightHolder"/>, whose output is the effective weight.
    /// </summary>
    public static ApplyTarget Weight(string spec, Tensor raw)
    {
        var holder = WeightNormRegistry.Apply(new WeightHolder(raw), spec);
        var input = holder.get_parameter("weight_" + Reparametrization.Find(holder)!.RawSuffix)!;
        return new(holder, input, () => holder.call(), $"weight normalizer {spec} on a weight {TensorFiles.Shape(raw)}");
    }
}
