using NormLab.Models;

namespace NormLab.Cli.Study;

/// <summary>
/// E2: normalizers crossed with batch sizes, the same number of epochs each (survey §4.2, the small-batch
/// problem of BN), on two CNNs: the 3-layer one (last map 7×7, so BN pools batch × 49 values per channel)
/// and a 6-layer one (last map 1×1, so BN's last statistics come from the batch alone); plus a reference
/// BN run on the full training set.
/// </summary>
internal sealed class BatchSizeExperiment : Experiment
{
    /// <summary>The normalizers compared, with the spec used for the CNN's 16/32/64 channels.</summary>
    internal static readonly (string Name, string Spec)[] Norms =
    {
        ("none", "none"), ("BN", "bn"), ("LN", "ln"), ("IN", "in(affine=true)"), ("GN", "gn(groups=4)"),
        ("BGN", "bgn(groups=4)"), ("SN", "sn"), ("IterNorm", "itn(group=16,T=5)"),
    };

    /// <summary>
    /// The deep CNN's widths: six layers whose maps shrink 28, 14, 7, 4, 2, 1 on 28×28 images, so its last
    /// normalizer sees one value per channel and sample, as one after a fully connected layer does.
    /// </summary>
    internal static readonly long[] DeepWidths = { 16, 32, 64, 128, 128, 128 };

    public override string Id => "E2";
    public override string Title => "Batch size";
    public override string Claim => "BN degrades at small batch sizes while GN and LN do not: with the same epochs, BN's test error at batch size 2 is clearly higher than at 64 and higher than GN's and LN's at batch size 2. " +
                                    "Judged on the deep CNN, whose last map is 1×1, so that BN's statistics there come from the batch alone; the 3-layer CNN (last map 7×7) shows what the spatial positions add.";

    /// <summary>SGD with momentum, the learning rate scaled linearly with the batch size (0.05 at 64).</summary>
    internal static string Sgd(int batch) => FormattableString.Invariant($"sgd(lr={0.05 * batch / 64.0:R},momentum=0.9)");

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        var shallow = Grid(context, Norms, null, "E2");
        var undefined = Norms.Select(n => (n.Name, Reason: UndefinedReason(context, n.Spec))).Where(n => n.Reason is not null)
            .ToDictionary(n => n.Name, n => n.Reason!);
        var deep = Grid(context, Norms.Where(n => !undefined.ContainsKey(n.Name)).ToArray(), DeepWidths, "E2 deep");
        var reference = context.Train(new TrainingConfig
        {
            Model = "cnn", Norm = "bn", Optimizer = "sgd(lr=0.05,momentum=0.9)", BatchSize = 64, Epochs = s.ReferenceEpochs,
            TrainLimit = s.ReferenceSubset, Cosine = true, Seed = context.Seed, Widths = s.ReferenceWidths,
        }, "E2 reference BN");

        int small = 0, large = s.BatchSizes.Length - 1;
        double bnSmall = deep["BN"][small], bnLarge = deep["BN"][large];
        double gnSmall = deep["GN"][small], lnSmall = deep["LN"][small];
        bool bnDegrades = bnSmall > bnLarge + 2;
        bool worseThanGroup = bnSmall > gnSmall && bnSmall > lnSmall;
        double referenceAccuracy = reference.Epochs[^1].TestAccuracy * 100;
        int b0 = s.BatchSizes[small], b1 = s.BatchSizes[large];
        long last = SmallCnn.LastMapSize(context.Images.FeatureShape[^1], SmallCnn.DefaultWidths.Count);
        string finding = $"On the deep CNN, BN's test error went from {bnLarge:F1}% at batch {b1} to {bnSmall:F1}% at batch {b0}, " +
                         $"while GN went from {deep["GN"][large]:F1}% to {gnSmall:F1}% and LN from {deep["LN"][large]:F1}% to {lnSmall:F1}%. " +
                         $"On the 3-layer CNN, BN had {shallow["BN"][large]:F1}% at batch {b1} and {shallow["BN"][small]:F1}% at batch {b0}, GN {shallow["GN"][small]:F1}% and LN {shallow["LN"][small]:F1}% at batch {b0}: " +
                         $"with its {last}×{last} last map, BN's statistics there pool {b0}×{last * last} values per channel. " +
                         (undefined.Count == 0 ? "" : $"{string.Join(" and ", undefined.Keys)} cannot normalize the deep CNN's 1×1 map (one value per instance statistic). ") +
                         $"The reference BN CNN reached {referenceAccuracy:F2}% test accuracy on {(s.ReferenceSubset == 0 ? "the full" : $"{s.ReferenceSubset} samples of the")} training set in {s.ReferenceEpochs} epochs.";

        string Caption(long[]? widths) =>
            $"Test error (%) of the CNN with widths {string.Join("-", widths ?? SmallCnn.DefaultWidths)} after {s.Epochs} epoch(s) on {s.Subset} training images, SGD momentum 0.9, lr = 0.05 x batch/64";
        var columns = new[] { "normalizer" }.Concat(s.BatchSizes.Select(b => $"batch {b}")).ToArray();
        Table ErrorTable(string name, long[]? widths, Dictionary<string, double[]> errors) => new(name, Caption(widths), columns,
            errors.Select(e => new object?[] { e.Key }.Concat(e.Value.Cast<object?>()).ToArray()).ToList());
        Figure ErrorFigure(string name, string title, Dictionary<string, double[]> errors) => new(name, title, "batch size", "test error (%)",
            errors.Select(e => new Series(e.Key, s.BatchSizes.Select(b => (double)b).ToArray(), e.Value)).ToList(),
            LogX: true, XTicks: s.BatchSizes.Select(b => b.ToString()).ToArray());
        var referenceTable = new Table("reference", $"Reference run: BN CNN (widths {string.Join("-", s.ReferenceWidths ?? SmallCnn.DefaultWidths)}), batch 64, cosine schedule",
            new[] { "epoch", "train loss", "test loss", "test accuracy (%)", "images/s" },
            reference.Epochs.Select(e => new object?[] { e.Epoch, e.TrainLoss, e.TestLoss, e.TestAccuracy * 100, e.ImagesPerSecond }).ToList());
        return Result(bnDegrades && worseThanGroup, finding,
            new Dictionary<string, object?>
            {
                ["batch_sizes"] = s.BatchSizes, ["deep_widths"] = DeepWidths,
                ["test_error_percent"] = deep, ["shallow_test_error_percent"] = shallow, ["undefined_on_deep"] = undefined,
                ["bn_small_batch_error"] = bnSmall, ["bn_large_batch_error"] = bnLarge, ["gn_small_batch_error"] = gnSmall, ["ln_small_batch_error"] = lnSmall,
                ["bn_degrades"] = bnDegrades, ["bn_worse_than_gn_and_ln_at_small_batch"] = worseThanGroup,
                ["reference_bn_test_accuracy_percent"] = referenceAccuracy,
            },
            new List<Table> { ErrorTable("test_error_deep", DeepWidths, deep), ErrorTable("test_error", null, shallow), referenceTable },
            new List<Figure>
            {
                ErrorFigure("test-error-deep", "Test error by batch size, deep CNN (last map 1×1)", deep),
                ErrorFigure("test-error", "Test error by batch size, 3-layer CNN (last map 7×7)", shallow),
            });
    }

    /// <summary>Test error (%) of each normalizer at each batch size, on the CNN with these widths.</summary>
    private static Dictionary<string, double[]> Grid(StudyContext context, (string Name, string Spec)[] norms, long[]? widths, string label)
    {
        var s = context.Scale;
        return norms.ToDictionary(n => n.Name, n => s.BatchSizes.Select(b => context.Train(new TrainingConfig
        {
            Model = "cnn", Norm = n.Spec, Optimizer = Sgd(b), BatchSize = b, Epochs = s.Epochs, TrainLimit = s.Subset, Seed = context.Seed, Widths = widths,
        }, $"{label} {n.Name} batch {b}").TestError * 100).ToArray());
    }

    /// <summary>Why the deep CNN cannot train with this normalizer at the smallest batch size, or null when it can.</summary>
    private static string? UndefinedReason(StudyContext context, string spec)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var model = TrainingJob.BuildModel(new TrainingConfig { Model = "cnn", Norm = spec, Widths = DeepWidths }, context.Images.FeatureShape, context.Images.Classes);
        model.train();
        try
        {
            model.call(TorchSharp.torch.zeros(new long[] { context.Scale.BatchSizes[0] }.Concat(context.Images.FeatureShape).ToArray()));
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }
}
