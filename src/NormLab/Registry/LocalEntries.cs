using NormLab.Layers;
using TorchSharp;
using static NormLab.Registry.StandardEntries;
using static TorchSharp.torch;

namespace NormLab.Registry;

/// <summary>Registry entries for local normalization (lrn, lcn, divisive, lcxn) and population normalization.</summary>
internal static class LocalEntries
{
    public static void Register(SpecRegistry<NormContext, nn.Module> r)
    {
        r.Add(new("lrn", new[] { "localresponsenorm" }, "local response normalization",
            "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep Convolutional Neural Networks",
            "b_c = a_c / (k + alpha/n * sum_{c' in window of n channels} a_c'^2)^beta (LibTorch local_response_norm)",
            new[] { SpecKey.Int("size", 5, "channels in the window n, >= 1 (even sizes allowed)"), SpecKey.Real("alpha", 1e-4, "alpha >= 0"),
                    SpecKey.Real("beta", 0.75, "beta >= 0"), SpecKey.Real("k", 2, "k >= 0") },
            (a, c) => LocalNorms.LocalResponseNorm(a.Int("size"), a.Real("alpha"), a.Real("beta"), a.Real("k"), RequireSpatial("lrn", c).Rank)));

        r.Add(new("lcn", new[] { "localcontrastnorm" }, "local contrast normalization",
            "Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, What is the Best Multi-Stage Architecture for Object Recognition?",
            "v = x - E_w[x], y = v / max(mean(sigma), sigma), sigma = sqrt(E_w[v^2]), E_w a Gaussian window over channels and size x size positions",
            new[] { SpecKey.Int("size", 9, "window side in pixels, >= 1"), SpecKey.OptionalReal("sigma", null, "Gaussian standard deviation in pixels; null = size/4") },
            (a, c) => LocalNorms.LocalContrastNorm(RequireImage("lcn", c).Channels, a.Int("size"), a.OptionalReal("sigma"))));

        r.Add(new("divisive", new[] { "dn" }, "divisive normalization",
            "Ren, Liao, Urtasun, Sinz & Zemel 2017, Normalizing the Normalizers: Comparing and Extending Network Normalization Schemes",
            "v = x - E_A[x] (summation field A), y = gamma*v / sqrt(sigma^2 + E_B[v^2]) + beta (suppression field B), per-channel spatial windows",
            new[] { SpecKey.Int("sum_size", 3, "side of the summation field, >= 1"), SpecKey.Int("sup_size", 5, "side of the suppression field, >= 1"),
                    SpecKey.Real("sigma", 1, "smoothing sigma >= 0; sigma^2 is added to the suppression term"), Affine },
            (a, c) => LocalNorms.DivisiveNorm(RequireImage("divisive", c).Channels, a.Int("sum_size"), a.Int("sup_size"), a.Real("sigma"), a.Bool("affine"))));

        r.Add(new("lcxn", new[] { "localcontextnorm" }, "local context normalization",
            "Ortiz, Robinson, Morales, et al. 2020, Local Context Normalization: Revisiting Local Normalization",
            "y = gamma*(x - mu_w)/sqrt(sigma_w^2 + eps) + beta, mu_w, sigma_w^2 over the element's channel group and a window x window neighbourhood",
            new[] { Groups(2), SpecKey.Int("window", 5, "window side in pixels, >= 1; at most the input's height and width"), Eps, Affine },
            (a, c) => LocalNorms.LocalContextNorm(RequireImage("lcxn", c).Channels, a.Int("groups"), a.Int("window"), a.Real("eps"), a.Bool("affine"))));

        r.Add(new("population", new[] { "popnorm" }, "population normalization (statistics of the whole training set)",
            "Wiesler, Richard, Schlueter & Ney 2014, Mean-normalized stochastic gradient for large-scale deep learning",
            "y = gamma*T(x - mu_pop) + beta with T = 1, 1/sqrt(var_pop + eps) or (Sigma_pop + eps*I)^-1/2, fitted by a pass over the data",
            new[] { SpecKey.Choice("mode", "standardize", "center, standardize or zca (whitening of groups of channels)", "center", "standardize", "zca"),
                    SpecKey.Bool("update", false, "keep updating the statistics from training batches (false = frozen after Fit)"),
                    SpecKey.Int("group", 16, "channels per whitening group for mode=zca; must divide C"), Eps, Momentum, Affine },
            (a, c) => new PopulationNorm(c.Channels, a.Choice("mode") switch { "center" => PopulationMode.Center, "zca" => PopulationMode.ZcaWhiten, _ => PopulationMode.Standardize },
                a.Bool("update"), a.Int("group"), a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), c.Rank)));
    }

    private static NormContext RequireSpatial(string name, NormContext c) => c.FeatureShape.Length >= 2 ? c
        : throw new ArgumentException($"'{name}' needs inputs with spatial dims; the feature shape {Framework.Checks.Shape(c.FeatureShape)} has none", "featureShape");

    private static NormContext RequireImage(string name, NormContext c) => c.FeatureShape.Length == 3 ? c
        : throw new ArgumentException($"'{name}' works on images [N, C, H, W]; the feature shape {Framework.Checks.Shape(c.FeatureShape)} is not [C, H, W]", "featureShape");
}
