using NormLab.Layers;
using NormLab.Operations;
using TorchSharp;
using static TorchSharp.torch;
using static NormLab.Registry.StandardEntries;

namespace NormLab.Registry;

/// <summary>Registry entries for switchable normalization (sn), switchable whitening (sw) and mode normalization (mn).</summary>
internal static class MultiModeEntries
{
    public static void Register(SpecRegistry<NormContext, nn.Module> r)
    {
        r.Add(new("sn", new[] { "switchnorm" }, "switchable normalization",
            "Luo, Ren, Peng, Zhang & Li 2019, Differentiable Learning-to-Normalize via Switchable Normalization",
            "y = gamma*(x - sum_k w_k mean_k)/sqrt(sum_k w'_k var_k + eps) + beta, k in {IN, LN, BN}, w = softmax(mean_weight), w' = softmax(var_weight)",
            new[] { SpecKey.Bool("using_bn", true, "include the BN candidate (with running statistics)"), Eps, Momentum, Affine, Sync },
            (a, c) => MultiModeNorms.SwitchNorm(c.Channels, a.Real("eps"), a.OptionalReal("momentum"), a.Bool("using_bn"), a.Bool("affine"), c.Rank[0], a.Bool("sync"))));

        r.Add(new("sw", new[] { "switchwhiten" }, "switchable whitening",
            "Pan, Zhan, Shi, Tang & Luo 2019, Switchable Whitening for Deep Representation Learning",
            "y = gamma*Sigma^-1/2 (x - sum_k w_k mean_k) + beta, Sigma = sum_k w'_k Sigma_k + eps*I, k in candidates, Sigma^-1/2 by T Newton steps",
            new[] { SpecKey.ChoiceSet("candidates", "bw+iw", "statistics to mix", "bw", "iw", "bn", "in", "ln"),
                    SpecKey.Int("group", 16, "channels per whitening group; must divide C"), SpecKey.Int("T", 5, "Newton iterations, >= 1"),
                    Eps, Momentum with { Default = "0.01" }, Affine, SpecKey.Bool("tie_weight", false, "share the mean logits for the covariances"), Sync },
            (a, c) => MultiModeNorms.SwitchWhiten(c.Channels, a.ChoiceSet("candidates").Select(c => Enum.Parse<SwitchCandidate>(c, ignoreCase: true)).ToArray(),
                a.Int("group"), a.Int("T"), a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), a.Bool("tie_weight"), c.Rank, a.Bool("sync"))));

        r.Add(new("mn", new[] { "modenorm" }, "mode normalization",
            "Deecke, Murray & Bilen 2019, Mode Normalization",
            "g = softmax(W pool(x) + b); y = gamma*sum_k g_k (x - mean_k)/sqrt(var_k + eps) + beta, moments weighted by g_k over the batch",
            new[] { SpecKey.Int("modes", 2, "number of modes K, >= 1"), Eps, Momentum, Affine, Sync },
            (a, c) => MultiModeNorms.ModeNorm(c.Channels, a.Int("modes"), a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), c.Rank, a.Bool("sync"))));
    }
}
