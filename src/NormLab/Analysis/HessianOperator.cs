using NormLab.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>
/// The Hessian of a model's loss over a data set, as an operator v ↦ H·v on the flattened parameters,
/// computed by double backward (Pearlmutter's trick, as PyHessian does), without forming H.
/// </summary>
/// <remarks>
/// H·v = ∂/∂w (∂L/∂w · v), with L the size-weighted mean of the loss over the batches. Normalizers run
/// with LibTorch's native ops or the composite (<see cref="KernelMode.Native"/>), which are twice
/// differentiable. Shapes are checked before every <c>autograd.grad</c> call (LibTorch aborts the
/// process on errors there); unused parameters get zero rows. Buffers (running statistics) are restored
/// after each product, so analysing a model in training mode leaves it unchanged.
/// </remarks>
public sealed class HessianOperator
{
    private readonly nn.Module _model;
    private readonly Func<Tensor, Tensor> _forward;
    private readonly Func<Tensor, Tensor, Tensor> _loss;
    private readonly IReadOnlyList<(Tensor X, Tensor Y)> _batches;
    private readonly long _samples;

    /// <summary>Creates the operator.</summary>
    /// <param name="model">The model; it must map a batch X to outputs.</param>
    /// <param name="loss">Loss(outputs, targets), a scalar mean over the batch.</param>
    /// <param name="batches">The data, one or more (X, Y) batches.</param>
    /// <param name="parameters">The parameters w; default every parameter that requires grad.</param>
    /// <exception cref="ArgumentException">no batches, an empty batch, or no parameters.</exception>
    public HessianOperator(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, IReadOnlyList<(Tensor X, Tensor Y)> batches,
        IEnumerable<Tensor>? parameters = null)
    {
        if (batches.Count == 0) throw new ArgumentException("the data set is empty: give at least one batch", nameof(batches));
        foreach (var (x, y) in batches)
            if (x.dim() == 0 || x.shape[0] == 0 || y.dim() == 0 || y.shape[0] != x.shape[0])
                throw new ArgumentException($"batch X {Checks.Shape(x.shape)} and Y {Checks.Shape(y.shape)} must be non-empty with the same number of samples", nameof(batches));
        _model = model;
        _forward = model.call;
        _loss = loss;
        _batches = batches;
        _samples = batches.Sum(b => b.X.shape[0]);
        Parameters = (parameters ?? model.parameters().Where(p => p.requires_grad)).ToArray();
        if (Parameters.Count == 0) throw new ArgumentException("the model has no parameters to differentiate", nameof(parameters));
        Dimension = Parameters.Sum(p => p.numel());
    }

    /// <summary>The parameters w, in order.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The total number of parameters (the size of H).</summary>
    public long Dimension { get; }

    /// <summary>The dtype of the parameters.</summary>
    public ScalarType DType => Parameters[0].dtype;

    /// <summary>The mean loss over the data set.</summary>
    public double Loss()
    {
        using var scope = NewDisposeScope();
        using var kernels = KernelPolicy.Use(KernelMode.Native);
        using var restore = new BufferSnapshot(_model);
        using var _ = no_grad();
        double total = 0;
        foreach (var (x, y) in _batches)
            total += _loss(_forward(x), y).ToDouble() * x.shape[0];
        return total / _samples;
    }

    /// <summary>The gradient ∇L, flattened [D].</summary>
    public Tensor Gradient()
    {
        using var scope = NewDisposeScope();
        using var kernels = KernelPolicy.Use(KernelMode.Native);
        using var restore = new BufferSnapshot(_model);
        var total = zeros(Dimension, dtype: DType);
        foreach (var (x, y) in _batches)
        {
            var loss = _loss(_forward(x), y);
            var grads = autograd.grad(new[] { loss }, Parameters.ToArray(), allow_unused: true);
            total += Flatten(grads) * (x.shape[0] / (double)_samples);
        }
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>H·v for a flat vector v [D]; the result is flat [D].</summary>
    /// <exception cref="ArgumentException">v of the wrong size.</exception>
    public Tensor Apply(Tensor v)
    {
        if (v.dim() != 1 || v.shape[0] != Dimension)
            throw new ArgumentException($"v has shape {Checks.Shape(v.shape)}; the Hessian acts on vectors of size {Dimension}", nameof(v));
        using var scope = NewDisposeScope();
        using var kernels = KernelPolicy.Use(KernelMode.Native);
        using var restore = new BufferSnapshot(_model);
        var pieces = Split(v.to(DType));
        var total = zeros(Dimension, dtype: DType);
        foreach (var (x, y) in _batches)
        {
            var loss = _loss(_forward(x), y);
            if (!loss.requires_grad) continue;
            var grads = autograd.grad(new[] { loss }, Parameters.ToArray(), retain_graph: true, create_graph: true, allow_unused: true);
            Tensor? dot = null;
            for (int i = 0; i < grads.Count; i++)
                if (grads[i] is { } g && !g.IsInvalid && g.requires_grad)
                    dot = dot is null ? (g * pieces[i]).sum() : dot + (g * pieces[i]).sum();
            if (dot is null) continue;
            var hv = autograd.grad(new[] { dot }, Parameters.ToArray(), allow_unused: true);
            total += Flatten(hv) * (x.shape[0] / (double)_samples);
        }
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>The full Hessian [D, D], column by column (for small models and tests).</summary>
    public Tensor Dense()
    {
        var columns = new List<Tensor>();
        for (long i = 0; i < Dimension; i++)
        {
            using var scope = NewDisposeScope();
            var e = zeros(Dimension, dtype: DType);
            e[i] = 1;
            columns.Add(Apply(e).MoveToOuterDisposeScope());
        }
        return stack(columns, 1);
    }

    /// <summary>Splits a flat vector into tensors shaped like the parameters.</summary>
    public Tensor[] Split(Tensor flat)
    {
        var pieces = new Tensor[Parameters.Count];
        long offset = 0;
        for (int i = 0; i < pieces.Length; i++)
        {
            long n = Parameters[i].numel();
            pieces[i] = flat.narrow(0, offset, n).view(Parameters[i].shape);
            offset += n;
        }
        return pieces;
    }

    private Tensor Flatten(IList<Tensor> grads) =>
        cat(grads.Select((g, i) => g is null || g.IsInvalid ? zeros(Parameters[i].numel(), dtype: DType) : g.detach().reshape(-1)).ToArray());

    /// <summary>Copies a module's buffers and writes them back on dispose.</summary>
    private sealed class BufferSnapshot : IDisposable
    {
        private readonly List<(Tensor Buffer, Tensor Copy)> _saved;

        public BufferSnapshot(nn.Module module) =>
            _saved = module.buffers().Select(b => (b, b.detach().clone().DetachFromDisposeScope())).ToList();

        public void Dispose()
        {
            using var _ = no_grad();
            foreach (var (buffer, copy) in _saved)
            {
                buffer.copy_(copy);
                copy.Dispose();
            }
        }
    }
}
