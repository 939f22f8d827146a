using NormLab.Models;

namespace NormLab.Cli.Study;

/// <summary>
/// E2: normalizers crossed with batch sizes on the small CNN, the same number of epochs each (survey §4.2,
/// the small-batch problem of BN), plus a reference BN run on the full training set.
/// </summary>
internal sealed class BatchSizeExperiment : Experiment
{
    /// <summary>The normalizers compared, with the spec used for the CNN's 16/32/64 channels.</summary>
    internal static readonly (string Name, string Spec)[] Norms =
    {
        ("none", "none"), ("BN", "bn"), ("LN", "ln"), ("IN", "in(affine=true)"), ("GN", "gn(groups=4)"),
        ("BGN", "bgn(groups=4)"), ("SN", "sn"), ("IterNorm", "itn(group=16,T=5)"),
    };

    public override string Id => "E2";
    public override string Title => "Batch size";
    public override string Claim => "BN degrades at small batch sizes while GN and LN do not: with the same epochs, BN's test error at batch size 2 is clearly higher than at 64 and higher than GN's and LN's at batch size 2.";

    /// <summary>SGD with momentum, the learning rate scaled linearly with the batch size (0.05 at 64).</summary>
    internal static string Sgd(int batch) => FormattableString.Invariant($"sgd(lr={0.05 * batch / 64.0:R},momentum=0.9)");

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        var errors = new Dictionary<string, double[]>();
        foreach (var (name, spec) in Norms)
        {
            errors[name] = s.BatchSizes.Select(b => context.Train(new TrainingConfig
            {
                Model = "cnn", Norm = spec, Optimizer = Sgd(b), BatchSize = b, Epochs = s.Epochs, TrainLimit = s.Subset, Seed = context.Seed,
            }, $"E2 {name} batch {b}").TestError * 100).ToArray();
        }
        var reference = context.Train(new TrainingConfig
        {
            Model = "cnn", Norm = "bn", Optimizer = "sgd(lr=0.05,momentum=0.9)", BatchSize = 64, Epochs = s.ReferenceEpochs,
            TrainLimit = s.ReferenceSubset, Cosine = true, Seed = context.Seed, Widths = s.ReferenceWidths,
        }, "E2 reference BN");

        int small = 0, large = s.BatchSizes.Length - 1;
        double bnSmall = errors["BN"][small], bnLarge = errors["BN"][large];
        double gnSmall = errors["GN"][small], lnSmall = errors["LN"][small];
        bool bnDegrades = bnSmall > bnLarge + 2;
        bool worseThanGroup = bnSmall > gnSmall && bnSmall > lnSmall;
        double referenceAccuracy = reference.Epochs[^1].TestAccuracy * 100;
        string finding = $"BN's test error rose from {bnLarge:F1}% at batch {s.BatchSizes[large]} to {bnSmall:F1}% at batch {s.BatchSizes[small]}; " +
                         $"at batch {s.BatchSizes[small]} GN had {gnSmall:F1}% and LN {lnSmall:F1}% (at {s.BatchSizes[large]}: GN {errors["GN"][large]:F1}%, LN {errors["LN"][large]:F1}%). " +
                         $"The reference BN CNN reached {referenceAccuracy:F2}% test accuracy on {(s.ReferenceSubset == 0 ? "the full" : $"{s.ReferenceSubset} samples of the")} training set in {s.ReferenceEpochs} epochs.";

        var columns = new[] { "normalizer" }.Concat(s.BatchSizes.Select(b => $"batch {b}")).ToArray();
        var table = new Table("test_error", $"Test error (%) after {s.Epochs} epoch(s) on {s.Subset} training images, SGD momentum 0.9, lr = 0.05 x batch/64",
            columns, Norms.Select(n => new object?[] { n.Name }.Concat(errors[n.Name].Cast<object?>()).ToArray()).ToList());
        var referenceTable = new Table("reference", $"Reference run: BN CNN (widths {string.Join("-", s.ReferenceWidths ?? SmallCnn.DefaultWidths)}), batch 64, cosine schedule",
            new[] { "epoch", "train loss", "test loss", "test accuracy (%)", "images/s" },
            reference.Epochs.Select(e => new object?[] { e.Epoch, e.TrainLoss, e.TestLoss, e.TestAccuracy * 100, e.ImagesPerSecond }).ToList());
        var figure = new Figure("test-error", "Test error by batch size", "batch size", "test error (%)",
            Norms.Select(n => new Series(n.Name, s.BatchSizes.Select(b => (double)b).ToArray(), errors[n.Name])).ToList(),
            LogX: true, XTicks: s.BatchSizes.Select(b => b.ToString()).ToArray());
        return Result(bnDegrades && worseThanGroup, finding,
            new Dictionary<string, object?>
            {
                ["batch_sizes"] = s.BatchSizes, ["test_error_percent"] = errors,
                ["bn_small_batch_error"] = bnSmall, ["bn_large_batch_error"] = bnLarge, ["gn_small_batch_error"] = gnSmall, ["ln_small_batch_error"] = lnSmall,
                ["bn_degrades"] = bnDegrades, ["bn_worse_than_gn_and_ln_at_small_batch"] = worseThanGroup,
                ["reference_bn_test_accuracy_percent"] = referenceAccuracy,
            },
            new List<Table> { table, referenceTable }, new List<Figure> { figure });
    }
}
