using NormLab.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Registry;

/// <summary>Registry entries for the standard normalizers (batch, layer, instance, group, batch-group, positional, RMS, mean-only).</summary>
internal static class StandardEntries
{
    internal static readonly SpecKey Eps = SpecKey.Real("eps", 1e-5, "variance offset inside the square root, >= 0");
    internal static readonly SpecKey Momentum = SpecKey.OptionalReal("momentum", 0.1, "running-average momentum in [0,1]; null = cumulative average");
    internal static readonly SpecKey Affine = SpecKey.Bool("affine", true, "learn the recovery's gamma and beta");
    internal static readonly SpecKey Track = SpecKey.Bool("track_running_stats", true, "keep running statistics for eval mode");
    internal static readonly SpecKey Sync = SpecKey.Bool("sync", false, "synchronize batch statistics across the processes of an mpirun job (SyncBatchNorm); a single process is unaffected");

    internal static SpecKey Groups(long d) => SpecKey.Int("groups", d, "number of contiguous channel groups; must divide C");

    public static void Register(SpecRegistry<NormContext, nn.Module> r)
    {
        r.Add(new("bn", new[] { "batchnorm" }, "batch normalization",
            "Ioffe & Szegedy 2015, Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
            "y = gamma*(x - mean_B)/sqrt(var_B + eps) + beta, statistics per channel over (N, *spatial)",
            new[] { Eps, Momentum, Affine, Track, Sync },
            (a, c) => StandardNorms.BatchNorm("BatchNorm", c.Rank, c.Channels, a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), a.Bool("track_running_stats"), a.Bool("sync"))));

        r.Add(new("ln", new[] { "layernorm" }, "layer normalization",
            "Ba, Kiros & Hinton 2016, Layer Normalization",
            "y = gamma*(x - mean)/sqrt(var + eps) + beta, per sample over the last K dims, elementwise gamma, beta",
            new[] { SpecKey.OptionalInt("dims", null, "normalize over the last K feature dims; null = all"), Eps, Affine },
            (a, c) => StandardNorms.LayerNorm(c.Trailing(a.OptionalInt("dims")), a.Real("eps"), a.Bool("affine"), ranks: c.Rank)));

        r.Add(new("in", new[] { "instancenorm" }, "instance normalization",
            "Ulyanov, Vedaldi & Lempitsky 2016, Instance Normalization: The Missing Ingredient for Fast Stylization",
            "y = gamma*(x - mean_HW)/sqrt(var_HW + eps) + beta, per (sample, channel) over the spatial dims",
            new[] { Eps, Momentum, Affine with { Default = "false" }, Track with { Default = "false" } },
            (a, c) => StandardNorms.InstanceNorm(c.Channels, a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), a.Bool("track_running_stats"), c.Rank)));

        r.Add(new("gn", new[] { "groupnorm" }, "group normalization",
            "Wu & He 2018, Group Normalization",
            "y = gamma*(x - mean_g)/sqrt(var_g + eps) + beta, per (sample, group of C/G channels) over (C/G, *spatial)",
            new[] { Groups(32), Eps, Affine },
            (a, c) => StandardNorms.GroupNorm(a.Int("groups"), c.Channels, a.Real("eps"), a.Bool("affine"), c.Rank)));

        r.Add(new("bgn", new[] { "batchgroupnorm" }, "batch group normalization",
            "Zhou, Sun, Lu, Hu & Song 2020, Batch Group Normalization",
            "y = gamma*(x - mean_g)/sqrt(var_g + eps) + beta, per group of C/G channels over (N, C/G, *spatial)",
            new[] { Groups(32), Eps, Momentum, Affine, Track, Sync },
            (a, c) => StandardNorms.BatchGroupNorm(a.Int("groups"), c.Channels, a.Real("eps"), a.OptionalReal("momentum"), a.Bool("affine"), a.Bool("track_running_stats"), c.Rank, a.Bool("sync"))));

        r.Add(new("pn", new[] { "pono", "positionalnorm" }, "positional normalization",
            "Li, Wu, Weinberger & Belongie 2019, Positional Normalization",
            "y = (x - mean_C)/sqrt(var_C + eps), per (sample, position) over the channels; unbiased var_C as the reference code",
            new[] { Eps, Affine with { Default = "false" }, SpecKey.Bool("unbiased", true, "normalize with the unbiased variance over C (reference code)") },
            (a, c) => StandardNorms.PositionalNorm(c.Channels, a.Real("eps"), a.Bool("affine"), a.Bool("unbiased"), c.Rank)));

        r.Add(new("rms", new[] { "rmsnorm" }, "root-mean-square normalization",
            "Zhang & Sennrich 2019, Root Mean Square Layer Normalization",
            "y = x/sqrt(mean(x^2) + eps)*gamma over the last K dims, elementwise gamma, no beta",
            new[] { SpecKey.OptionalInt("dims", null, "normalize over the last K feature dims; null = all"),
                    SpecKey.OptionalReal("eps", null, "offset inside the square root; null = the dtype's machine epsilon (PyTorch)"), Affine },
            (a, c) => StandardNorms.RMSNorm(c.Trailing(a.OptionalInt("dims")), a.OptionalReal("eps"), a.Bool("affine"), c.Rank)));

        r.Add(new("meanbn", new[] { "meanonlybn" }, "mean-only batch normalization",
            "Salimans & Kingma 2016, Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep Neural Networks",
            "y = x - mean_B + beta, per channel over (N, *spatial)",
            new[] { Momentum, Affine, Track, Sync },
            (a, c) => StandardNorms.MeanOnlyBatchNorm(c.Channels, a.OptionalReal("momentum"), a.Bool("affine"), a.Bool("track_running_stats"), c.Rank, a.Bool("sync"))));
    }
}
