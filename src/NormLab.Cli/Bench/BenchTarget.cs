using static TorchSharp.torch;

namespace NormLab.Cli.Bench;

/// <summary>
/// One benchmarked normalizer on one input shape: the input, the tensors gradients are taken for, and
/// the implementations timed (NormLab's automatic choice, LibTorch's native op when one exists, and
/// the composite reference).
/// </summary>
internal sealed class BenchTarget : IDisposable
{
    public BenchTarget(string spec, long[] shape, Tensor input, Tensor[] parameters,
        Func<Tensor, Tensor> normlab, Func<Tensor, Tensor>? native, Func<Tensor, Tensor> composite, IDisposable? owner = null)
    {
        Spec = spec;
        Shape = shape;
        Input = input;
        Parameters = parameters;
        NormLab = normlab;
        Native = native;
        Composite = composite;
        _owner = owner;
    }

    private readonly IDisposable? _owner;

    /// <summary>The spec as given (a registry spec, or a bench-only name such as <c>ws</c>).</summary>
    public string Spec { get; }

    /// <summary>The input shape.</summary>
    public long[] Shape { get; }

    /// <summary>The input (requires grad); for weight methods, the weight itself.</summary>
    public Tensor Input { get; }

    /// <summary>The learnable tensors whose gradients the backward pass also computes.</summary>
    public Tensor[] Parameters { get; }

    /// <summary>NormLab's own kernels (<see cref="Framework.KernelMode.Fused"/>: the fused kernel where one exists, even where <see cref="Framework.KernelMode.Auto"/> would pick the native op).</summary>
    public Func<Tensor, Tensor> NormLab { get; }

    /// <summary>LibTorch's native op with the same semantics, or null when LibTorch has none.</summary>
    public Func<Tensor, Tensor>? Native { get; }

    /// <summary>The composite reference (<see cref="Framework.KernelMode.Composite"/>).</summary>
    public Func<Tensor, Tensor> Composite { get; }

    /// <summary>Bytes the pass must move at least: read x and write y forward; read x and dy and write dx backward.</summary>
    public double FloorBytes(BenchPass pass)
    {
        double tensorBytes = Input.numel() * Input.element_size();
        return pass switch
        {
            BenchPass.Forward => 2 * tensorBytes,
            BenchPass.Backward => 3 * tensorBytes,
            _ => 5 * tensorBytes,
        };
    }

    public void Dispose()
    {
        _owner?.Dispose();
        Input.Dispose();
    }
}

/// <summary>Which part of a training step is timed.</summary>
internal enum BenchPass
{
    /// <summary>The forward pass (with autograd recording, as in training).</summary>
    Forward,
    /// <summary>The backward pass alone: gradients of the input and the parameters.</summary>
    Backward,
    /// <summary>Forward and backward together.</summary>
    ForwardBackward,
}

internal static class BenchPassNames
{
    public static string Name(this BenchPass pass) => pass switch
    {
        BenchPass.Forward => "fwd",
        BenchPass.Backward => "bwd",
        _ => "fwdbwd",
    };
}
