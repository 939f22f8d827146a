using NormLab.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Registry;

/// <summary>
/// Every weight normalizer by name. <c>WeightNormRegistry.Apply(conv, "oni(T=3)")</c> reparametrizes
/// <c>conv.weight</c>; <see cref="Reparametrization.Remove"/> undoes it. The context of a factory is the
/// module it will be applied to.
/// </summary>
public static class WeightNormRegistry
{
    private static readonly Lazy<SpecRegistry<nn.Module, WeightNormalizer>> Instance = new(Build);

    /// <summary>The registry itself (entries, lookup).</summary>
    public static SpecRegistry<nn.Module, WeightNormalizer> Registry => Instance.Value;

    /// <summary>Every registered weight normalizer.</summary>
    public static IReadOnlyList<SpecEntry<nn.Module, WeightNormalizer>> Entries => Registry.Entries;

    /// <summary>Reparametrizes <paramref name="module"/>'s parameter <paramref name="name"/> with the method a spec describes.</summary>
    /// <returns>The same module.</returns>
    /// <exception cref="SpecException">a malformed spec or an unknown name or key (the message lists the valid ones).</exception>
    /// <exception cref="ArgumentException">a value the method rejects, no such parameter, already reparametrized, or a shape the method cannot take.</exception>
    public static T Apply<T>(T module, string spec, string name = "weight") where T : nn.Module =>
        Reparametrization.Apply(module, Registry.Create(spec, module), name);

    private static SpecRegistry<nn.Module, WeightNormalizer> Build()
    {
        var r = new SpecRegistry<nn.Module, WeightNormalizer>("weight normalizer");
        var group = SpecKey.OptionalInt("group", null, "rows per group, a divisor of the number of rows; null = all rows in one group");

        r.Add(new("wn", new[] { "weightnorm" }, "weight normalization",
            "Salimans & Kingma 2016, Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep Neural Networks",
            "w = g * v / ||v||, norm over every dim but dim; state weight_g (broadcast shape), weight_v (PyTorch weight_norm)",
            new[] { SpecKey.Int("dim", 0, "the dim g keeps, 0..rank-1 (0 = one g per output row); -1 = one norm over the whole weight (PyTorch's dim=None)") },
            (a, _) => new WeightNorm(a.Int("dim"))));

        r.Add(new("cwn", new[] { "centeredwn" }, "centered weight normalization",
            "Huang et al. 2017, Centered Weight Normalization in Accelerating Training of Deep Neural Networks",
            "w = 1.414 * (v - mean(v)) / (||v - mean(v)|| + 1e-5) per output row (CenteredWN CWN.py, NScale 1.414)",
            Array.Empty<SpecKey>(),
            (_, _) => new CenteredWeightNorm()));

        r.Add(new("ws", new[] { "weightstd" }, "weight standardization",
            "Qiao et al. 2019, Micro-Batch Training with Batch-Channel Normalization and Weight Standardization",
            "w = (v - mean(v)) / (std_unbiased(v) + 1e-5) per output row (official); biased: / sqrt(var_biased(v) + 1e-6) (timm/BiT)",
            new[] { SpecKey.Choice("eps_mode", "official", "official = unbiased std + 1e-5; biased = sqrt(biased var + 1e-6) as timm/BiT", "official", "biased") },
            (a, _) => new WeightStandardization(a.Choice("eps_mode") == "biased" ? WsEpsMode.Biased : WsEpsMode.Official)));

        r.Add(new("spectral", new[] { "sn", "spectralnorm" }, "spectral normalization",
            "Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks",
            "w = W / sigma, sigma = u^T W v after power iteration v = normalize(W^T u), u = normalize(W v) (PyTorch spectral_norm); exact: sigma = max singular value",
            new[] { SpecKey.Int("n_power_iterations", 1, "power-iteration steps per training forward, >= 1"),
                    SpecKey.Bool("exact", false, "sigma from the SVD instead of the power iteration") },
            (a, _) => new SpectralNorm(a.Int("n_power_iterations"), a.Bool("exact"))));

        r.Add(new("own", new[] { "orthogonalwn" }, "orthogonal weight normalization",
            "Huang et al. 2018, Orthogonal Weight Normalization: Solution to Optimization over Multiple Dependent Stiefel Manifolds in Deep Neural Networks",
            "W = (Zc Zc^T)^(-1/2) Zc per group of rows, Zc = rows centered, by eigendecomposition (OthogonalWN OWN.py)",
            new[] { group with { Doc = "rows per group, a divisor of the number of rows and below the row length; null = all rows in one group" } },
            (a, _) => new OrthogonalWeightNorm(a.OptionalInt("group"))));

        r.Add(new("oni", Array.Empty<string>(), "orthogonalization by Newton's iteration",
            "Huang et al. 2020, Controllable Orthogonalization in Training DNNs",
            "S = Zc Zc^T + 1e-5 I, B_{t+1} = 1.5 B_t - 0.5 B_t^3 S/||S||_F, W = 1.414 B_T Zc / sqrt(||S||_F) per group of rows; columns when rows > cols",
            new[] { SpecKey.Int("T", 5, "Newton iterations, >= 0"), group },
            (a, _) => new OrthogonalizationByNewton(a.Int("T"), a.OptionalInt("group"))));

        r.Add(new("normprop", new[] { "np" }, "normalization propagation (weight part)",
            "Arpit et al. 2016, Normalization Propagation: A Parametric Technique for Removing Internal Covariate Shift in Deep Networks",
            "w_i = g_i * v_i / (1.21 ||v_i||), g init 1; pair with NormPropReLU: (relu(x) - sqrt(1/(2 pi))) / sqrt((1 - 1/pi)/2)",
            Array.Empty<SpecKey>(),
            (_, _) => new NormProp()));
        return r;
    }
}
