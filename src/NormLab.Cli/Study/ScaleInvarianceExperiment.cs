using NormLab.Analysis;
using NormLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Study;

/// <summary>
/// E5: scale invariance and weight normalization (survey §5.1, §4): under BN the conv weights are scale
/// invariant, so plain SGD makes their norms grow and their effective learning rate lr/‖W‖² fall; and
/// weight normalization compared with the same CNN without it, each method in the setting its paper
/// uses: WN and ONI on the CNN without activation normalization, WS together with GN (Qiao et al. pair
/// it with an activation normalizer; alone it left the CNN at chance, training loss ln 10).
/// </summary>
internal sealed class ScaleInvarianceExperiment : Experiment
{
    /// <summary>The runs: name, weight normalizer (null: none), activation normalizer, and the run it is compared with (null: a baseline).</summary>
    private static readonly (string Name, string? Weight, string Norm, string? Baseline)[] WeightMethods =
    {
        ("plain", null, "none", null), ("WN", "wn", "none", "plain"), ("ONI", "oni(T=5)", "none", "plain"),
        ("GN", null, "gn(groups=4)", null), ("WS+GN", "ws", "gn(groups=4)", "GN"),
    };
    private const double LearningRate = 0.05;

    /// <summary>A run counts as faster when its final training loss is lower than its baseline's by more than this fraction.</summary>
    private const double Margin = 0.01;

    private sealed record NormTrack(string Layer, double[] Norms, double[] EffectiveLr);

    private sealed record Invariance(double Alpha, double LossRelativeChange, double GradientRelativeError, double Epsilon);

    /// <summary>What the BN run measured: a record with properties, so the cache round-trips it (a value tuple's fields would serialize as {}).</summary>
    private sealed record BnRun(List<NormTrack> Tracks, Invariance Invariance);

    public override string Id => "E5";
    public override int Version => 5;
    public override string Title => "Scale invariance and weight normalization";
    public override string Claim => "Under BN a conv weight is scale invariant (the loss does not change under W -> aW and the gradient scales by 1/a), so plain SGD makes its norm grow and its effective learning rate lr/||W||^2 fall; weight normalization trains faster than the same CNN without it: WN and ONI against the CNN without activation normalization, WS+GN against GN (a final training loss lower by more than 1%, for at least 2 of the 3).";

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        int epochs = s.WeightEpochs;
        int subset = s.WeightSubset;
        var (tracks, invariance) = context.Cached($"E5 bn|ep={epochs}|sub={subset}", () => TrackNorms(context, epochs, subset));
        var runs = WeightMethods.Select(m => (m.Name, Result: context.Train(new TrainingConfig
        {
            Model = "cnn", Norm = m.Norm, WeightNorm = m.Weight, Optimizer = "sgd(lr=0.02,momentum=0.9)", BatchSize = 64, Epochs = epochs,
            TrainLimit = subset, Seed = context.Seed,
        }, $"E5 {m.Name}"))).ToList();

        bool normsGrow = tracks.All(t => t.Norms[^1] > t.Norms[0]);
        bool lrFalls = tracks.All(t => t.EffectiveLr[^1] < t.EffectiveLr[0]);
        bool invariant = invariance.LossRelativeChange < 1e-4 && invariance.GradientRelativeError < 1e-3;
        double Loss(string name) => runs.Single(r => r.Name == name).Result.FinalTrainLoss;
        var compared = WeightMethods.Where(m => m.Baseline is not null).ToList();
        var faster = compared.Where(m => Loss(m.Name) < (1 - Margin) * Loss(m.Baseline!)).Select(m => m.Name).ToList();
        bool weightNormsHelp = faster.Count >= 2;
        string finding = $"With BN and plain SGD (lr {LearningRate}, no weight decay) the conv weight norms went {string.Join(", ", tracks.Select(t => $"{t.Layer} {t.Norms[0]:F2} -> {t.Norms[^1]:F2}"))} over {epochs} epochs, " +
                         $"so the effective learning rates fell to {string.Join(", ", tracks.Select(t => $"{t.EffectiveLr[^1] / t.EffectiveLr[0]:P0}"))} of their start. " +
                         $"Scaling conv2's weight by {invariance.Alpha} changed the loss by {invariance.LossRelativeChange:G2} (relative; BN's eps = {invariance.Epsilon}) and the gradient matched 1/{invariance.Alpha} to {invariance.GradientRelativeError:G2}. " +
                         $"Final training loss: {string.Join(", ", compared.Select(m => $"{m.Name} {Loss(m.Name):F3} against {m.Baseline} {Loss(m.Baseline!):F3}"))}; " +
                         $"{(faster.Count == 0 ? "none" : string.Join(" and ", faster))} ended more than {Margin:P0} below {(faster.Count == 1 ? "its" : "their")} baseline.";
        var steps = Enumerable.Range(0, epochs + 1).Select(e => (double)e).ToArray();
        var normFigure = new Figure("weight-norm", "Conv weight norms under BN and plain SGD", "epoch", "||W||",
            tracks.Select(t => new Series(t.Layer, steps, t.Norms)).ToList());
        var lrFigure = new Figure("effective-lr", "Effective learning rate lr/||W||^2 under BN", "epoch", "effective learning rate",
            tracks.Select(t => new Series(t.Layer, steps, t.EffectiveLr)).ToList(), LogY: true);
        var curves = new Figure("weight-normalization", "Weight normalization against the same CNN without it", "epoch", "training loss",
            runs.Select(r => new Series(r.Name, r.Result.Epochs.Select(e => (double)e.Epoch).ToArray(), r.Result.Epochs.Select(e => e.TrainLoss).ToArray())).ToList());
        var table = new Table("weight_normalization", $"CNN with weight normalization and its baseline, SGD momentum 0.9, {epochs} epochs on {subset} images",
            new[] { "run", "weights", "activations", "compared with", "final train loss", "test error (%)", "diverged" },
            WeightMethods.Zip(runs, (m, r) => new object?[] { m.Name, m.Weight ?? "plain", m.Norm, m.Baseline, r.Result.FinalTrainLoss, r.Result.TestError * 100, r.Result.Diverged }).ToList());
        var normTable = new Table("weight_norms", "Conv weight norms and effective learning rates under BN, by epoch",
            new[] { "layer", "epoch", "||W||", "lr/||W||^2" },
            tracks.SelectMany(t => t.Norms.Select((v, e) => new object?[] { t.Layer, e, v, t.EffectiveLr[e] })).ToList());
        return Result(normsGrow && lrFalls && invariant && weightNormsHelp, finding,
            new Dictionary<string, object?>
            {
                ["weight_norms"] = tracks.ToDictionary(t => t.Layer, t => t.Norms),
                ["effective_lr"] = tracks.ToDictionary(t => t.Layer, t => t.EffectiveLr),
                ["invariance"] = invariance,
                ["final_train_loss"] = runs.ToDictionary(r => r.Name, r => r.Result.FinalTrainLoss),
                ["norms_grow"] = normsGrow, ["effective_lr_falls"] = lrFalls, ["scale_invariant"] = invariant, ["weight_normalization_faster_than_plain"] = faster,
            },
            new List<Table> { table, normTable }, new List<Figure> { normFigure, lrFigure, curves });
    }

    /// <summary>Trains the BN CNN with plain SGD, recording conv weight norms after every epoch, then checks scale invariance.</summary>
    private static BnRun TrackNorms(StudyContext context, int epochs, int subset)
    {
        var layers = new[] { "conv1", "conv2", "conv3" };
        var norms = layers.ToDictionary(l => l, _ => new List<double>());
        void Record(nn.Module<Tensor, Tensor> model)
        {
            foreach (var l in layers) norms[l].Add(model.get_parameter($"{l}.weight")!.norm().ToDouble());
        }
        var config = new TrainingConfig
        {
            Model = "cnn", Norm = "bn", Optimizer = FormattableString.Invariant($"sgd(lr={LearningRate},momentum=0.9)"), BatchSize = 64, Epochs = epochs,
            TrainLimit = subset, Seed = context.Seed,
        };
        var initial = TrainingJob.BuildModel(config, context.Images.FeatureShape, context.Images.Classes);
        Record(initial);
        var (_, model) = context.RunTraining(config, "E5 BN weight norms", onEpoch: (_, m) => Record(m));
        model.train();
        var x = context.Images.TrainX.narrow(0, 0, 256);
        var y = context.Images.TrainY.narrow(0, 0, 256);
        var report = ScaleInvariance.Check(() => nn.functional.cross_entropy(model.call(x), y), model.get_parameter("conv2.weight")!, 4.0);
        var tracks = layers.Select(l => new NormTrack(l, norms[l].ToArray(), norms[l].Select(n => LearningRate / (n * n)).ToArray())).ToList();
        return new BnRun(tracks, new Invariance(report.Alpha, report.LossRelativeChange, report.GradientRelativeError, 1e-5));
    }
}
