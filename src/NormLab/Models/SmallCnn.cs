using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>
/// A small CNN for 28×28 single-channel images with a swappable normalizer:
/// conv3×3(w1) → norm → ReLU, then for each further width conv3×3(wi, stride 2) → norm → ReLU,
/// then global average pool → linear(classes). Sized for a 2-core CPU (about 2 MFLOP per image forward
/// with the default widths 16, 32, 64, whose maps are 28, 14 and 7 pixels wide).
/// </summary>
/// <remarks>
/// Each normalizer is built by <see cref="NormLayers.Create"/> for the feature shape [C, H, W] it sees,
/// so any registry spec works (<c>bn</c>, <c>gn(groups=4)</c>, <c>ln</c>, ...); <c>none</c> gives none,
/// and then the convolutions carry a bias (with a normalizer the bias would be redundant and is left out).
/// More widths make a deeper network with smaller late maps (28, 14, 7, 4, 2, 1, 1, ...): there BN's statistics
/// come from few values per channel, as in the late stages of an ImageNet ResNet.
/// State-dict names: <c>conv1.weight</c>, <c>norm1.*</c>, ..., <c>fc.weight</c>, <c>fc.bias</c>.
/// </remarks>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _convs;
    private readonly nn.Module<Tensor, Tensor>[] _norms;
    private readonly nn.Module<Tensor, Tensor> _fc;

    /// <summary>The channels of the convolutions unless given: 16, 32, 64.</summary>
    public static IReadOnlyList<long> DefaultWidths { get; } = new long[] { 16, 32, 64 };

    /// <summary>Creates the network.</summary>
    /// <param name="norm">Normalizer spec after each convolution, or <c>none</c> (default).</param>
    /// <param name="classes">Output classes, >= 1 (default 10).</param>
    /// <param name="inChannels">Input channels, >= 1 (default 1).</param>
    /// <param name="imageSize">Input height and width, >= 5 (default 28).</param>
    /// <param name="widths">Channels of the convolutions, one per layer, at least one, each >= 1 (default 16, 32, 64).</param>
    /// <param name="seed">When given, conv and linear weights are drawn from a private generator with this seed (PyTorch's default distribution), so the model is reproducible; null (default) uses the global generator.</param>
    /// <exception cref="ArgumentException">a size out of range, or a normalizer spec that does not fit a layer.</exception>
    public SmallCnn(string norm = NormLayers.None, long classes = 10, long inChannels = 1, long imageSize = 28, long[]? widths = null, long? seed = null)
        : base(nameof(SmallCnn))
    {
        widths ??= DefaultWidths.ToArray();
        if (widths.Length == 0 || widths.Any(w => w < 1))
            throw new ArgumentException($"widths [{string.Join(", ", widths)}] must be one or more channel counts >= 1", nameof(widths));
        if (classes < 1) throw new ArgumentException($"classes ({classes}) must be at least 1", nameof(classes));
        if (inChannels < 1) throw new ArgumentException($"inChannels ({inChannels}) must be at least 1", nameof(inChannels));
        if (imageSize < 5) throw new ArgumentException($"imageSize ({imageSize}) must be at least 5", nameof(imageSize));
        bool bias = NormLayers.IsNone(norm);
        _convs = new nn.Module<Tensor, Tensor>[widths.Length];
        _norms = new nn.Module<Tensor, Tensor>[widths.Length];
        long channels = inChannels, size = imageSize;
        for (int i = 0; i < widths.Length; i++)
        {
            long stride = i == 0 ? 1 : 2;
            _convs[i] = nn.Conv2d(channels, widths[i], 3, stride: stride, padding: 1, bias: bias);
            size = (size - 1) / stride + 1;
            channels = widths[i];
            _norms[i] = NormLayers.Create(norm, channels, size, size);
            register_module($"conv{i + 1}", _convs[i]);
            register_module($"norm{i + 1}", _norms[i]);
        }
        _fc = nn.Linear(channels, classes);
        register_module("fc", _fc);
        InputShape = new[] { inChannels, imageSize, imageSize };
        if (seed is { } s) SeededInit.Apply(_convs.Append(_fc), s);
    }

    /// <summary>The side of the last feature map for square images of side <paramref name="imageSize"/> and <paramref name="layers"/> convolutions.</summary>
    public static long LastMapSize(long imageSize, int layers) => Enumerable.Range(1, Math.Max(layers - 1, 0)).Aggregate(imageSize, (size, _) => (size - 1) / 2 + 1);

    /// <summary>The input shape without the batch dim, [C, H, W].</summary>
    public long[] InputShape { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || !x.shape[1..].SequenceEqual(InputShape))
            throw new ArgumentException($"SmallCnn expects inputs [N, {string.Join(", ", InputShape)}], got [{string.Join(", ", x.shape)}]");
        using var scope = NewDisposeScope();
        var h = x;
        for (int i = 0; i < _convs.Length; i++) h = nn.functional.relu(_norms[i].call(_convs[i].call(h)));
        return _fc.call(h.mean(new long[] { 2, 3 })).MoveToOuterDisposeScope();
    }
}
