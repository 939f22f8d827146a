using NormLab.Framework;
using NormLab.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Registry;

/// <summary>
/// Every activation normalizer by name. <c>NormRegistry.Create("gn(groups=8)", 64, 32, 32)</c> builds
/// a group norm for inputs [N, 64, 32, 32]. The feature shape is the input shape without the batch dim:
/// channel-wise normalizers use its first entry, layer-type ones its last K entries, and the created
/// module accepts inputs of rank featureShape.Length + 1.
/// </summary>
public static class NormRegistry
{
    private static readonly Lazy<SpecRegistry<NormContext, nn.Module>> Instance = new(Build);

    /// <summary>The registry itself (entries, lookup).</summary>
    public static SpecRegistry<NormContext, nn.Module> Registry => Instance.Value;

    /// <summary>Every registered normalizer.</summary>
    public static IReadOnlyList<SpecEntry<NormContext, nn.Module>> Entries => Registry.Entries;

    /// <summary>Creates the normalizer a spec describes, for inputs [N, *featureShape].</summary>
    /// <exception cref="SpecException">a malformed spec or an unknown name or key (the message lists the valid ones).</exception>
    /// <exception cref="ArgumentException">a value the method rejects, or a feature shape it cannot take.</exception>
    public static nn.Module<Tensor, Tensor> Create(string spec, params long[] featureShape)
    {
        var module = CreateAny(spec, featureShape);
        return module as nn.Module<Tensor, Tensor>
            ?? throw new SpecException($"'{spec}' is a conditional normalizer (it takes an input and a condition); use CreateConditional");
    }

    /// <summary>
    /// Creates the conditional normalizer a spec describes (AdaIN, SPADE, CBN, FiLM), for inputs
    /// [N, *featureShape] and conditions [N, *conditionShape].
    /// </summary>
    /// <exception cref="SpecException">a malformed spec or an unknown name or key.</exception>
    /// <exception cref="ArgumentException">a value the method rejects, a plain normalizer, or shapes it cannot take.</exception>
    public static nn.Module<Tensor, Tensor, Tensor> CreateConditional(string spec, long[] featureShape, long[] conditionShape)
    {
        var module = CreateAny(spec, featureShape, conditionShape);
        return module as nn.Module<Tensor, Tensor, Tensor>
            ?? throw new SpecException($"'{spec}' is not a conditional normalizer; use Create");
    }

    /// <summary>Creates any normalizer (plain or conditional) a spec describes.</summary>
    public static nn.Module CreateAny(string spec, long[] featureShape, long[]? conditionShape = null)
    {
        if (featureShape is null || featureShape.Length == 0)
            throw new ArgumentException("featureShape must give at least the channel count (the input shape without the batch dim)", nameof(featureShape));
        if (featureShape.Any(d => d < 1))
            throw new ArgumentException($"featureShape {Checks.Shape(featureShape)} must have positive sizes", nameof(featureShape));
        if (conditionShape is not null && conditionShape.Any(d => d < 1))
            throw new ArgumentException($"conditionShape {Checks.Shape(conditionShape)} must have positive sizes", nameof(conditionShape));
        return Registry.Create(spec, new NormContext(featureShape, conditionShape));
    }

    /// <summary>Whether the spec names a conditional normalizer (one that takes an input and a condition).</summary>
    /// <exception cref="SpecException">a malformed spec or an unknown name.</exception>
    public static bool IsConditional(string spec) => RecoveryEntries.ConditionalNames.Contains(Registry.Find(Spec.Parse(spec).Name).Name);

    private static SpecRegistry<NormContext, nn.Module> Build()
    {
        var r = new SpecRegistry<NormContext, nn.Module>("normalizer");
        StandardEntries.Register(r);
        WhiteningEntries.Register(r);
        MultiModeEntries.Register(r);
        LocalEntries.Register(r);
        RecoveryEntries.Register(r);
        return r;
    }
}
