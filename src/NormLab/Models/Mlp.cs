using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>
/// A multilayer perceptron with a swappable normalizer: [linear(h_i) → norm → ReLU] per hidden layer,
/// then linear(classes). Inputs [N, *features] are flattened to [N, D].
/// </summary>
/// <remarks>
/// Each normalizer is built by <see cref="NormLayers.Create"/> for the feature shape [h_i]; <c>none</c> gives
/// none, and then the hidden linear layers carry a bias (with a normalizer it would be redundant).
/// State-dict names: <c>fc1.weight</c>, <c>norm1.*</c>, ..., <c>head.weight</c>, <c>head.bias</c>.
/// </remarks>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _linears;
    private readonly nn.Module<Tensor, Tensor>[] _norms;
    private readonly nn.Module<Tensor, Tensor> _head;

    /// <summary>Creates the network.</summary>
    /// <param name="inputFeatures">D, the flattened input size, >= 1.</param>
    /// <param name="hidden">Hidden widths, each >= 1 (default 128, 128; empty gives a linear model).</param>
    /// <param name="classes">Output classes, >= 1 (default 10).</param>
    /// <param name="norm">Normalizer spec after each hidden linear layer, or <c>none</c> (default).</param>
    /// <param name="seed">When given, linear weights are drawn from a private generator with this seed (PyTorch's default distribution), so the model is reproducible; null (default) uses the global generator.</param>
    /// <exception cref="ArgumentException">a size out of range, or a normalizer spec that does not fit a layer.</exception>
    public Mlp(long inputFeatures, long[]? hidden = null, long classes = 10, string norm = NormLayers.None, long? seed = null) : base(nameof(Mlp))
    {
        hidden ??= new long[] { 128, 128 };
        if (inputFeatures < 1) throw new ArgumentException($"inputFeatures ({inputFeatures}) must be at least 1", nameof(inputFeatures));
        if (hidden.Any(h => h < 1)) throw new ArgumentException($"hidden widths [{string.Join(", ", hidden)}] must be >= 1", nameof(hidden));
        if (classes < 1) throw new ArgumentException($"classes ({classes}) must be at least 1", nameof(classes));
        bool bias = NormLayers.IsNone(norm);
        _linears = new nn.Module<Tensor, Tensor>[hidden.Length];
        _norms = new nn.Module<Tensor, Tensor>[hidden.Length];
        long width = inputFeatures;
        for (int i = 0; i < hidden.Length; i++)
        {
            _linears[i] = nn.Linear(width, hidden[i], hasBias: bias);
            _norms[i] = NormLayers.Create(norm, hidden[i]);
            register_module($"fc{i + 1}", _linears[i]);
            register_module($"norm{i + 1}", _norms[i]);
            width = hidden[i];
        }
        _head = nn.Linear(width, classes);
        register_module("head", _head);
        InputFeatures = inputFeatures;
        if (seed is { } s) SeededInit.Apply(_linears.Append(_head), s);
    }

    /// <summary>D, the flattened input size.</summary>
    public long InputFeatures { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 2 || x.shape[1..].Aggregate(1L, (a, b) => a * b) != InputFeatures)
            throw new ArgumentException($"Mlp expects inputs [N, *features] with {InputFeatures} features, got [{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        var h = x.reshape(x.shape[0], InputFeatures);
        for (int i = 0; i < _linears.Length; i++) h = nn.functional.relu(_norms[i].call(_linears[i].call(h)));
        return _head.call(h).MoveToOuterDisposeScope();
    }
}
