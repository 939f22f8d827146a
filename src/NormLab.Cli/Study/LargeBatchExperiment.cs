using NormLab.Models;

namespace NormLab.Cli.Study;

/// <summary>
/// E6: large-batch training with gradient normalization (survey §4, LARS/LAMB): SGD, LARS and LAMB, each
/// with and without gradient centralization, at a large batch size with a short warm-up.
/// </summary>
internal sealed class LargeBatchExperiment : Experiment
{
    public override string Id => "E6";
    public override string Title => "Large batch";
    public override string Claim => "Layer-wise gradient normalization makes large-batch training work: at a large batch size LARS or LAMB reach a lower final training loss than SGD with the linearly scaled learning rate, and gradient centralization helps.";

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        double sgdLr = 0.05 * s.LargeBatch / 64;
        var optimizers = new (string Name, string Spec)[]
        {
            ("SGD", FormattableString.Invariant($"sgd(lr={sgdLr:R},momentum=0.9)")),
            // lr·η = 0.01 relative update per step at batch 1024, as in You et al.'s ImageNet runs (lr 9, η = 0.001).
            ("LARS", FormattableString.Invariant($"lars(lr={sgdLr:R},momentum=0.9,eta={0.01 / sgdLr:G6})")),
            ("LAMB", "lamb(lr=0.02)"),
        };
        int steps = (s.LargeBatchSubset + s.LargeBatch - 1) / s.LargeBatch * s.LargeBatchEpochs;
        var runs = new List<(string Name, bool Gc, TrainingResult Result)>();
        foreach (var (name, spec) in optimizers)
            foreach (var gc in new[] { false, true })
            {
                var optimizer = gc ? spec.TrimEnd(')') + ",gc=true)" : spec;
                runs.Add((name, gc, context.Train(new TrainingConfig
                {
                    Model = "cnn", Norm = "bn", Optimizer = optimizer, BatchSize = s.LargeBatch, Epochs = s.LargeBatchEpochs,
                    TrainLimit = s.LargeBatchSubset, WarmupSteps = Math.Max(1, steps / 5), Seed = context.Seed,
                }, $"E6 {name}{(gc ? "+GC" : "")}")));
            }
        double Error(string name, bool gc) => runs.First(r => r.Name == name && r.Gc == gc).Result.TestError * 100;
        double Loss(string name, bool gc) => runs.First(r => r.Name == name && r.Gc == gc).Result.FinalTrainLoss;
        bool adaptiveBetter = Math.Min(Loss("LARS", false), Loss("LAMB", false)) < Loss("SGD", false);
        int gcHelps = optimizers.Count(o => Loss(o.Name, true) < Loss(o.Name, false));
        string finding = $"At batch {s.LargeBatch} ({s.LargeBatchEpochs} epochs, {steps} steps, warm-up {Math.Max(1, steps / 5)} steps) the final training losses (test errors) were " +
                         $"{string.Join(", ", runs.Select(r => $"{r.Name}{(r.Gc ? "+GC" : "")} {r.Result.FinalTrainLoss:F3} ({r.Result.TestError * 100:F1}%){(r.Result.Diverged ? " (diverged)" : "")}"))}; " +
                         $"gradient centralization lowered the training loss for {gcHelps} of {optimizers.Length} optimizers.";
        var figure = new Figure("test-error", $"Large batch ({s.LargeBatch}): test error by optimizer", "optimizer", "test error (%)",
            new List<Series>
            {
                new("without GC", new[] { 0.0, 1, 2 }, optimizers.Select(o => Error(o.Name, false)).ToArray()),
                new("with GC", new[] { 0.0, 1, 2 }, optimizers.Select(o => Error(o.Name, true)).ToArray()),
            }, FigureKind.Bars, XTicks: optimizers.Select(o => o.Name).ToArray());
        var curves = new Figure("training", $"Large batch ({s.LargeBatch}): training loss by epoch", "epoch", "training loss",
            runs.Select(r => new Series($"{r.Name}{(r.Gc ? "+GC" : "")}", r.Result.Epochs.Select(e => (double)e.Epoch).ToArray(), r.Result.Epochs.Select(e => e.TrainLoss).ToArray())).ToList());
        var table = new Table("large_batch", $"BN CNN at batch {s.LargeBatch} on {s.LargeBatchSubset} images, {s.LargeBatchEpochs} epochs",
            new[] { "optimizer", "gradient centralization", "spec", "final train loss", "test error (%)", "diverged" },
            runs.Select(r => new object?[] { r.Name, r.Gc, r.Result.Config.Optimizer, r.Result.FinalTrainLoss, r.Result.TestError * 100, r.Result.Diverged }).ToList());
        return Result(adaptiveBetter && gcHelps >= 2, finding,
            new Dictionary<string, object?>
            {
                ["batch_size"] = s.LargeBatch,
                ["test_error_percent"] = runs.ToDictionary(r => $"{r.Name}{(r.Gc ? "+gc" : "")}", r => r.Result.TestError * 100),
                ["lars_or_lamb_better_than_sgd"] = adaptiveBetter, ["gc_helps_count"] = gcHelps,
            },
            new List<Table> { table }, new List<Figure> { figure, curves });
    }
}
