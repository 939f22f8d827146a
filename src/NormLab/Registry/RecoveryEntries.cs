using NormLab.Framework;
using NormLab.Layers;
using TorchSharp;
using static NormLab.Registry.StandardEntries;
using static TorchSharp.torch;

namespace NormLab.Registry;

/// <summary>Registry entries for the representation-recovery family: AdaIN, SPADE, CBN, FiLM (conditional) and attentive normalization.</summary>
internal static class RecoveryEntries
{
    /// <summary>The entries whose modules take (input, condition).</summary>
    public static readonly string[] ConditionalNames = { "adain", "spade", "cbn", "film" };

    public static void Register(SpecRegistry<NormContext, nn.Module> r)
    {
        r.Add(new("adain", Array.Empty<string>(), "adaptive instance normalization (conditional: style features)",
            "Huang & Belongie 2017, Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
            "y = sigma(s)*(x - mu(x))/sigma(x) + mu(s), per (sample, channel) over positions, sigma = sqrt(var_unbiased + eps)",
            new[] { Eps },
            (a, c) => ConditionalNorms.AdaIN(c.Channels, a.Real("eps"), c.Rank)));

        r.Add(new("spade", Array.Empty<string>(), "spatially-adaptive normalization (conditional: segmentation map)",
            "Park, Liu, Wang & Zhu 2019, Semantic Image Synthesis with Spatially-Adaptive Normalization",
            "y = norm(x)*(1 + gamma(m)) + beta(m), gamma, beta = convs of the segmentation map m resized to x",
            new[] { InnerNorm("in"), SpecKey.OptionalInt("label_nc", null, "channels of the segmentation map; null = from the condition shape"),
                    SpecKey.Int("hidden", 128, "hidden channels of the shared conv, >= 1"), SpecKey.Int("kernel", 3, "odd conv kernel size") },
            (a, c) => ConditionalNorms.Spade(ParamFreeNorm(a.Nested("norm"), c), c.Channels,
                a.OptionalInt("label_nc") ?? c.RequireCondition("spade", "segmentation map [label_nc, h, w]")[0], a.Int("hidden"), a.Int("kernel"))));

        r.Add(new("cbn", new[] { "conditionalbn" }, "conditional batch normalization (conditional: class ids)",
            "de Vries, Strub, Mary, Larochelle, Pietquin & Courville 2017, Modulating early visual processing by language",
            "y = gamma[c]*norm(x) + beta[c], one gamma, beta row per class c",
            new[] { SpecKey.Int("classes", 10, "number of classes K, >= 1; ids must be in [0, K)"), InnerNorm("bn") },
            (a, c) => ConditionalNorms.ConditionalBatchNorm(ParamFreeNorm(a.Nested("norm"), c), c.Channels, a.Int("classes"))));

        r.Add(new("film", new[] { "dynamicnorm" }, "FiLM-style dynamic normalization (conditional: vector)",
            "Perez, Strub, de Vries, Dumoulin & Courville 2018, FiLM: Visual Reasoning with a General Conditioning Layer",
            "y = norm(x)*(1 + dgamma(z)) + beta(z), dgamma, beta linear maps of the conditioning vector z",
            new[] { SpecKey.OptionalInt("dim", null, "size D of the conditioning vector; null = from the condition shape"), InnerNorm("in") },
            (a, c) => ConditionalNorms.Film(ParamFreeNorm(a.Nested("norm"), c), c.Channels,
                a.OptionalInt("dim") ?? c.RequireCondition("film", "conditioning vector [D]")[0])));

        r.Add(new("an", new[] { "attentivenorm" }, "attentive normalization",
            "Li, Sun & Wu 2020, Attentive Normalization",
            "y = sum_k lambda_k(x)*(gamma_k*xhat + beta_k), xhat batch-standardized, lambda = hsigmoid(BN(W*pool(x)))",
            new[] { SpecKey.Int("K", 5, "number of affine components, >= 1"), Eps, Momentum, Track, Sync },
            (a, c) => ConditionalNorms.AttentiveNorm(c.Channels, a.Int("K"), a.Real("eps"), a.OptionalReal("momentum"), a.Bool("track_running_stats"), c.Rank, a.Bool("sync"))));
    }

    private static SpecKey InnerNorm(string @default) =>
        SpecKey.Nested("norm", @default, "the parameter-free inner normalizer: any plain registry spec (its affine is switched off)");

    /// <summary>Builds the inner normalizer of a conditional one: a plain normalizer with affine=false unless the spec sets it.</summary>
    private static nn.Module<Tensor, Tensor> ParamFreeNorm(Spec inner, NormContext c)
    {
        var (entry, _) = NormRegistry.Registry.Resolve(inner);
        if (ConditionalNames.Contains(entry.Name))
            throw new SpecException($"norm={inner} is conditional; the inner normalizer must be a plain one");
        bool hasAffine = entry.Keys.Any(k => k.Name == "affine");
        bool setsAffine = inner.Args.Any(a => string.Equals(a.Key, "affine", StringComparison.OrdinalIgnoreCase));
        var spec = hasAffine && !setsAffine
            ? new Spec(inner.Name, inner.Args.Append(new("affine", new SpecValue("false", null))).ToList())
            : inner;
        return (nn.Module<Tensor, Tensor>)NormRegistry.Registry.Create(spec, new NormContext(c.FeatureShape));
    }
}
