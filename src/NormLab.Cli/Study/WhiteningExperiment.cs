using NormLab.Analysis;
using NormLab.Models;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Study;

/// <summary>
/// E3: batch whitening methods compared (survey §3.2.2, §5.2): training curves of PCA, ZCA, Cholesky and
/// IterNorm(T = 1, 3, 5, 7) on the small CNN, and the stochastic normalization disturbance (SND) as the
/// batch shrinks and the whitening group grows.
/// </summary>
internal sealed class WhiteningExperiment : Experiment
{
    private static readonly (string Name, string Spec)[] Methods =
    {
        ("PCA", "pca(group=16)"), ("ZCA", "zca(group=16)"), ("CD", "cd(group=16)"),
        ("IterNorm T=1", "itn(group=16,T=1)"), ("IterNorm T=3", "itn(group=16,T=3)"), ("IterNorm T=5", "itn(group=16,T=5)"), ("IterNorm T=7", "itn(group=16,T=7)"),
    };

    private static readonly int[] SndBatches = { 4, 8, 16, 32, 64 };
    private static readonly int[] SndGroups = { 1, 2, 4, 8, 16 };

    public override string Id => "E3";
    public override string Title => "Whitening";
    public override string Claim => "PCA whitening is unstable (stochastic axis swapping: the largest SND and a worse training loss than ZCA), and the stochastic normalization disturbance grows as the batch shrinks and as the whitening group grows.";

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        int recordEvery = Math.Max(1, s.Subset * s.Epochs / 64 / 40);
        var runs = Methods.Select(m => (m.Name, Result: context.Train(new TrainingConfig
        {
            Model = "cnn", Norm = m.Spec, Optimizer = "sgd(lr=0.05,momentum=0.9)", BatchSize = 64, Epochs = s.Epochs,
            TrainLimit = s.Subset, Seed = context.Seed, RecordEvery = recordEvery,
        }, $"E3 {m.Name}"))).ToList();

        var snd = context.Cached($"E3 snd|n={s.SndData}|s={s.SndSamples}|p={s.SndProbes}", () => MeasureSnd(context));

        double Tail(TrainingResult r) => r.StepLosses.Count == 0 ? r.FinalTrainLoss : r.StepLosses.Skip(r.StepLosses.Count * 3 / 4).Average(p => p[1]);
        var tails = runs.ToDictionary(r => r.Name, r => Tail(r.Result));
        bool pcaWorse = tails["PCA"] > tails["ZCA"] || runs.First(r => r.Name == "PCA").Result.Diverged;
        var methodSnd = snd["methods"];
        bool pcaLargestSnd = methodSnd["PCA"] >= methodSnd.Where(kv => kv.Key != "PCA").Max(kv => kv.Value);
        bool Decreasing(double[] v) => v.Zip(v.Skip(1)).All(p => p.Second < p.First);
        bool Increasing(double[] v) => v.Zip(v.Skip(1)).All(p => p.Second > p.First);
        var bnByBatch = SndBatches.Select(b => snd["bn_by_batch"][b.ToString()]).ToArray();
        var zcaByBatch = SndBatches.Select(b => snd["zca_by_batch"][b.ToString()]).ToArray();
        var byGroup = SndGroups.Select(g => snd["zca_by_group"][g.ToString()]).ToArray();
        bool batchTrend = Decreasing(bnByBatch) && Decreasing(zcaByBatch);
        bool groupTrend = Increasing(byGroup);
        string F(double[] v) => string.Join(", ", v.Select(x => x.ToString("G3")));
        string finding = $"Final-quarter training loss: {string.Join(", ", runs.Select(r => $"{r.Name} {tails[r.Name]:F3}"))}. " +
                         $"SND at batch 16, group 16: {string.Join(", ", methodSnd.Select(kv => $"{kv.Key} {kv.Value:G3}"))}. " +
                         $"SND of BN for batch {string.Join("/", SndBatches)}: {F(bnByBatch)}; of ZCA: {F(zcaByBatch)}; of ZCA for group {string.Join("/", SndGroups)} at batch 8: {F(byGroup)}.";

        var curves = new Figure("training", "Training loss of the whitening methods (small CNN, batch 64)", "step", "training loss (cross-entropy)",
            runs.Select(r => new Series(r.Name, r.Result.StepLosses.Select(p => p[0]).ToArray(), r.Result.StepLosses.Select(p => p[1]).ToArray())).ToList());
        var sndBatch = new Figure("snd-batch", "SND as the batch shrinks", "batch size", "SND",
            new List<Series> { new("BN", SndBatches.Select(b => (double)b).ToArray(), bnByBatch), new("ZCA (group 16)", SndBatches.Select(b => (double)b).ToArray(), zcaByBatch) },
            LogX: true, XTicks: SndBatches.Select(b => b.ToString()).ToArray());
        var sndGroup = new Figure("snd-group", "SND of ZCA whitening as the group grows (batch 8)", "whitening group size", "SND",
            new List<Series> { new("ZCA", SndGroups.Select(g => (double)g).ToArray(), byGroup) }, LogX: true, XTicks: SndGroups.Select(g => g.ToString()).ToArray());
        var table = new Table("methods", $"Whitening methods on the small CNN ({s.Epochs} epoch(s), {s.Subset} images) and their SND (batch 16, group 16)",
            new[] { "method", "final-quarter train loss", "test error (%)", "diverged", "SND" },
            runs.Select(r => new object?[] { r.Name, tails[r.Name], r.Result.TestError * 100, r.Result.Diverged, methodSnd[r.Name] }).ToList());
        var sndTable = new Table("snd", "SND by batch size (BN, ZCA group 16) and by group size (ZCA, batch 8)",
            new[] { "setting", "value", "SND" },
            SndBatches.Select(b => new object?[] { "BN, batch", b, snd["bn_by_batch"][b.ToString()] })
                .Concat(SndBatches.Select(b => new object?[] { "ZCA g16, batch", b, snd["zca_by_batch"][b.ToString()] }))
                .Concat(SndGroups.Select(g => new object?[] { "ZCA b8, group", g, snd["zca_by_group"][g.ToString()] })).ToList());
        return Result(pcaWorse && pcaLargestSnd && batchTrend && groupTrend, finding,
            new Dictionary<string, object?>
            {
                ["final_quarter_train_loss"] = tails, ["snd"] = snd,
                ["pca_worse_than_zca"] = pcaWorse, ["pca_largest_snd"] = pcaLargestSnd,
                ["snd_decreases_with_batch"] = batchTrend, ["snd_increases_with_group"] = groupTrend,
            },
            new List<Table> { table, sndTable }, new List<Figure> { curves, sndBatch, sndGroup });
    }

    /// <summary>SND on image patches as 16-channel 7×7 maps (4×4 pixel blocks as channels), every normalizer without affine.</summary>
    private static Dictionary<string, Dictionary<string, double>> MeasureSnd(StudyContext context)
    {
        var s = context.Scale;
        long n = Math.Min(s.SndData, context.Images.TrainX.shape[0]);
        var images = context.Images.TrainX.narrow(0, 0, n).to(ScalarType.Float64);
        var maps = images.view(n, 7, 4, 7, 4).permute(0, 2, 4, 1, 3).reshape(n, 16, 7, 7);
        var total = SndBatches.Length * 2 + SndGroups.Length + Methods.Length;
        context.Progress.Start("E3 SND", total);
        double Measure(string spec, long batch)
        {
            context.Cancel.ThrowIfCancellationRequested();
            var norm = NormRegistry.Create(spec, 16, 7, 7);
            norm.to(ScalarType.Float64);
            var value = Snd.Estimate(norm, maps, batch, s.SndSamples, s.SndProbes, context.Seed).Mean;
            context.Progress.Advance();
            return value;
        }
        var result = new Dictionary<string, Dictionary<string, double>>
        {
            ["bn_by_batch"] = SndBatches.ToDictionary(b => b.ToString(), b => Measure("bn(affine=false)", b)),
            ["zca_by_batch"] = SndBatches.ToDictionary(b => b.ToString(), b => Measure("zca(group=16,affine=false)", b)),
            ["zca_by_group"] = SndGroups.ToDictionary(g => g.ToString(), g => Measure($"zca(group={g},affine=false)", 8)),
            ["methods"] = Methods.ToDictionary(m => m.Name, m => Measure(m.Spec.TrimEnd(')') + ",affine=false)", 16)),
        };
        context.Progress.Finish("done");
        return result;
    }
}
