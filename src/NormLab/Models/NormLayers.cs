using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>Builds the normalization layer a model places after each conv or linear layer.</summary>
public static class NormLayers
{
    /// <summary>The spec meaning "no normalization" (an identity layer).</summary>
    public const string None = "none";

    /// <summary>Whether <paramref name="spec"/> means no normalization.</summary>
    public static bool IsNone(string spec) => string.Equals(spec?.Trim(), None, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The normalizer <paramref name="spec"/> describes for inputs [N, *featureShape]
    /// (<see cref="NormRegistry.Create"/>), or an identity layer for <c>none</c>.
    /// </summary>
    /// <exception cref="SpecException">a malformed spec or an unknown name or key.</exception>
    /// <exception cref="ArgumentException">a value the normalizer rejects for this feature shape.</exception>
    public static nn.Module<Tensor, Tensor> Create(string spec, params long[] featureShape)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return IsNone(spec) ? nn.Identity() : NormRegistry.Create(spec, featureShape);
    }
}
