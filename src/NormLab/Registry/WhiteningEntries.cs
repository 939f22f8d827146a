using NormLab.Layers;
using NormLab.Operations;
using TorchSharp;
using static TorchSharp.torch;
using static NormLab.Registry.StandardEntries;

namespace NormLab.Registry;

/// <summary>Registry entries for batch whitening (pca, zca, cd, itn) and instance whitening (iw).</summary>
internal static class WhiteningEntries
{
    private static readonly SpecKey Group = SpecKey.Int("group", 16, "channels per whitening group (contiguous); must divide C");
    private static readonly SpecKey Track = SpecKey.Choice("track", "wm", "running estimate of the whitening matrix (wm) or of the covariance (cov)", "wm", "cov");
    private static readonly SpecKey Iterations = SpecKey.Int("T", 5, "Newton iterations, >= 1");

    public static void Register(SpecRegistry<NormContext, nn.Module> r)
    {
        AddBatch(r, "pca", WhiteningMethod.Pca, "PCA batch whitening",
            "Huang, Yang, Lang & Deng 2018, Decorrelated Batch Normalization (PCA whitening baseline)",
            "y = gamma*Lambda^-1/2 U^T (x - mean_B) + beta, Sigma_B + eps*I = U Lambda U^T per group of d channels", 1e-3);
        AddBatch(r, "zca", WhiteningMethod.Zca, "ZCA batch whitening (decorrelated batch normalization)",
            "Huang, Yang, Lang & Deng 2018, Decorrelated Batch Normalization",
            "y = gamma*U Lambda^-1/2 U^T (x - mean_B) + beta, Sigma_B + eps*I = U Lambda U^T per group of d channels", 1e-3);
        AddBatch(r, "cd", WhiteningMethod.Cholesky, "Cholesky batch whitening",
            "Siarohin, Sangineto & Sebe 2019, Whitening and Coloring Batch Transform for GANs",
            "y = gamma*L^-1 (x - mean_B) + beta, Sigma_B + eps*I = L L^T per group of d channels", 1e-3);
        AddBatch(r, "itn", WhiteningMethod.IterNorm, "iterative normalization (IterNorm)",
            "Huang, Zhou, Zhu, Liu & Shao 2019, Iterative Normalization: Beyond Standardization towards Efficient Whitening",
            "P0 = I, P_k+1 = 1.5 P_k - 0.5 P_k^3 Sigma_N, Sigma_N = Sigma/tr(Sigma); y = gamma*P_T/sqrt(tr Sigma) (x - mean_B) + beta", 1e-5,
            Iterations);

        r.Add(new("iw", new[] { "instancewhitening" }, "instance whitening",
            "Pan, Zhan, Shi, Tang & Luo 2019, Switchable Whitening for Deep Representation Learning (instance whitening)",
            "y = gamma*W_n (x_n - mean_n) + beta, W_n a whitening matrix of sample n's covariance over its spatial positions, per group of d channels",
            new[] { SpecKey.Choice("method", "zca", "whitening method", "zca", "itn", "pca", "cd"), Group, Iterations,
                    SpecKey.OptionalReal("eps", null, "covariance offset >= 0; null = the method's default (1e-3; itn 1e-5)"),
                    Momentum, Affine, StandardEntries.Track with { Default = "false" }, Track },
            (a, c) => WhiteningNorms.InstanceWhitening(Method(a.Choice("method")), c.Channels, a.Int("group"), a.OptionalReal("eps"), a.OptionalReal("momentum"),
                a.Bool("affine"), TrackOf(a), a.Int("T"), a.Bool("track_running_stats"), c.Rank)));
    }

    private static void AddBatch(SpecRegistry<NormContext, nn.Module> r, string name, WhiteningMethod method, string summary, string paper, string formula,
        double eps, params SpecKey[] extra)
    {
        var keys = extra.Concat(new[] { Group, SpecKey.Real("eps", eps, "covariance offset added to Sigma, >= 0"), Momentum, Affine, StandardEntries.Track, Track, Sync }).ToArray();
        r.Add(new(name, Array.Empty<string>(), summary, paper, formula, keys,
            (a, c) => WhiteningNorms.BatchWhitening(method, c.Channels, a.Int("group"), a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"),
                TrackOf(a), method == WhiteningMethod.IterNorm ? a.Int("T") : 5, a.Bool("track_running_stats"), c.Rank, a.Bool("sync"))));
    }

    private static WhiteningTrack TrackOf(SpecArgs a) => a.Choice("track") == "cov" ? WhiteningTrack.Covariance : WhiteningTrack.Matrix;

    private static WhiteningMethod Method(string name) => name switch
    {
        "pca" => WhiteningMethod.Pca,
        "cd" => WhiteningMethod.Cholesky,
        "itn" => WhiteningMethod.IterNorm,
        _ => WhiteningMethod.Zca,
    };
}
