using System.Diagnostics;
using NormLab.Analysis;
using NormLab.Data;
using NormLab.Distributed;
using NormLab.Framework;
using NormLab.Optim;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Models;

/// <summary>One training configuration: model, normalizer, weight normalizer, optimizer and schedule.</summary>
public sealed record TrainingConfig
{
    /// <summary>"cnn" (<see cref="SmallCnn"/>, images) or "mlp" (<see cref="Mlp"/>, any input, flattened).</summary>
    public string Model { get; init; } = "cnn";

    /// <summary>The CNN's conv widths, one per layer (default 16, 32, 64) or the MLP's hidden widths (default 128, 128).</summary>
    public long[]? Widths { get; init; }

    /// <summary>Normalizer spec after each conv/hidden layer, or "none".</summary>
    public string Norm { get; init; } = "bn";

    /// <summary>Weight-normalizer spec applied to every conv/hidden linear weight (not the classifier), or null.</summary>
    public string? WeightNorm { get; init; }

    /// <summary>Optimizer spec (<see cref="OptimizerRegistry"/>).</summary>
    public string Optimizer { get; init; } = "sgd(lr=0.05,momentum=0.9)";

    /// <summary>Mini-batch size, ≥ 1.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Passes over the training data, ≥ 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Use the first N training samples only; 0 = all.</summary>
    public int TrainLimit { get; init; }

    /// <summary>Linear learning-rate warm-up over this many steps (0 = none).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Cosine decay of the learning rate to 0 over the whole run.</summary>
    public bool Cosine { get; init; }

    /// <summary>Seeds the model's weights and the batch order.</summary>
    public long Seed { get; init; }

    /// <summary>Record the training loss every this many steps (0 = per epoch only).</summary>
    public int RecordEvery { get; init; }

    /// <summary>A short label for tables and file names.</summary>
    public override string ToString() =>
        $"{Model}{(Widths is null ? "" : $" widths={string.Join("-", Widths)}")} norm={Norm}{(WeightNorm is null ? "" : $" weight={WeightNorm}")} optim={Optimizer} batch={BatchSize} epochs={Epochs}" +
        $"{(TrainLimit > 0 ? $" limit={TrainLimit}" : "")}{(WarmupSteps > 0 ? $" warmup={WarmupSteps}" : "")}{(Cosine ? " cosine" : "")} seed={Seed}";
}

/// <summary>The metrics of one epoch.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TestLoss, double TestAccuracy, double Seconds, double ImagesPerSecond);

/// <summary>The outcome of a training run.</summary>
/// <param name="Config">What was trained.</param>
/// <param name="Epochs">Per-epoch metrics.</param>
/// <param name="StepLosses">(step, loss) every <see cref="TrainingConfig.RecordEvery"/> steps.</param>
/// <param name="Diverged">Whether a batch loss became NaN or infinite (training stopped there).</param>
/// <param name="Parameters">The number of trainable parameters.</param>
public sealed record TrainingResult(TrainingConfig Config, List<EpochMetrics> Epochs, List<double[]> StepLosses, bool Diverged, long Parameters)
{
    /// <summary>The final test error (1 − accuracy); 1 − 1/classes for a diverged run is not assumed: NaN accuracy gives NaN.</summary>
    public double TestError => Epochs.Count == 0 ? double.NaN : 1 - Epochs[^1].TestAccuracy;

    /// <summary>The last epoch's mean training loss.</summary>
    public double FinalTrainLoss => Epochs.Count == 0 ? double.NaN : Epochs[^1].TrainLoss;
}

/// <summary>
/// Trains one configuration on a <see cref="LabeledDataset"/> and evaluates it after every epoch:
/// the building block of <c>normlab train</c> and of the study.
/// </summary>
/// <remarks>
/// Everything random is seeded (model init, batch order), so a run is reproducible. Each batch runs in
/// its own dispose scope (<see cref="TrainingLoop"/>), so native memory stays flat. A non-finite loss
/// stops the run and marks it diverged; its test metrics are then those of the diverged model.
/// </remarks>
public static class TrainingJob
{
    /// <summary>Builds the model a configuration describes for inputs [N, *featureShape].</summary>
    /// <exception cref="ArgumentException">an unknown model, or a spec that does not fit.</exception>
    public static nn.Module<Tensor, Tensor> BuildModel(TrainingConfig config, long[] featureShape, int classes)
    {
        nn.Module<Tensor, Tensor> model = config.Model switch
        {
            "cnn" when featureShape.Length == 3 && featureShape[1] == featureShape[2] =>
                new SmallCnn(config.Norm, classes, featureShape[0], featureShape[1], config.Widths, seed: config.Seed),
            "cnn" => throw new ArgumentException($"model 'cnn' needs square images [C, H, H], got feature shape {Checks.Shape(featureShape)}", "model"),
            "mlp" => new Mlp(featureShape.Aggregate(1L, (a, b) => a * b), config.Widths, classes, config.Norm, config.Seed),
            _ => throw new ArgumentException($"model '{config.Model}' is not one of cnn, mlp", "model"),
        };
        if (config.WeightNorm is { } spec)
            foreach (var (name, layer) in model.named_children().Where(c => c.name.StartsWith("conv") || (c.name.StartsWith("fc") && config.Model == "mlp")).ToList())
                WeightNormRegistry.Apply(layer, spec);
        return model;
    }

    /// <summary>Trains <paramref name="config"/> on <paramref name="data"/>.</summary>
    /// <param name="config">What to train.</param>
    /// <param name="data">The data set.</param>
    /// <param name="onStep">Called after every step with (step, total steps, loss), e.g. for progress.</param>
    /// <param name="onEpoch">Called after every epoch with the model (e.g. to record weight norms).</param>
    /// <param name="cancel">Checked between steps.</param>
    /// <param name="monitor">When given, a <see cref="TrainingMonitor"/> CSV file of activation moments, gradient and weight norms and effective learning rates.</param>
    /// <param name="monitorEvery">Record the monitor every this many steps (≥ 1).</param>
    /// <param name="world">
    /// Train data-parallel over this job when it has more than one process (default: this process alone):
    /// rank 0's initial state is broadcast, <see cref="TrainingConfig.BatchSize"/> is the batch of each
    /// process (the global batch is P times larger), gradients are summed across processes (see
    /// <see cref="DataParallel"/>), rank 0's buffers are broadcast before each evaluation, and every
    /// process returns the same metrics. Every process must pass the same configuration and data.
    /// </param>
    /// <returns>The result and the trained model.</returns>
    /// <exception cref="ArgumentException">an invalid configuration.</exception>
    /// <exception cref="OperationCanceledException">cancelled.</exception>
    public static (TrainingResult Result, nn.Module<Tensor, Tensor> Model) Run(TrainingConfig config, LabeledDataset data,
        Action<long, long, double>? onStep = null, Action<int, nn.Module<Tensor, Tensor>, NormOptimizer>? onEpoch = null, CancellationToken cancel = default,
        string? monitor = null, int monitorEvery = 10, Communicator? world = null)
    {
        if (monitorEvery < 1) throw new ArgumentException($"monitor interval ({monitorEvery}) must be at least 1", nameof(monitorEvery));
        if (config.BatchSize < 1) throw new ArgumentException($"batch size ({config.BatchSize}) must be at least 1", "batch_size");
        if (config.Epochs < 1) throw new ArgumentException($"epochs ({config.Epochs}) must be at least 1", "epochs");
        if (config.TrainLimit < 0) throw new ArgumentException($"train limit ({config.TrainLimit}) must be >= 0", "train_limit");
        var model = BuildModel(config, data.FeatureShape, data.Classes);
        var parallel = world is { Size: > 1 } ? new DataParallel(model, world) : null;
        parallel?.BroadcastState();
        var optimizer = OptimizerRegistry.Create(config.Optimizer, model.parameters());
        using var recorder = monitor is null ? null : new TrainingMonitor(model, monitor);
        long n = config.TrainLimit > 0 ? Math.Min(config.TrainLimit, data.TrainX.shape[0]) : data.TrainX.shape[0];
        var trainX = data.TrainX.narrow(0, 0, n);
        var trainY = data.TrainY.narrow(0, 0, n);
        int globalBatch = checked(config.BatchSize * (parallel?.World.Size ?? 1));
        long perEpoch = (n + globalBatch - 1) / globalBatch;
        long total = perEpoch * config.Epochs, step = 0;
        var baseRates = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        var shuffle = new Generator((ulong)(config.Seed * 7919 + 17));
        var epochs = new List<EpochMetrics>();
        var steps = new List<double[]>();
        bool diverged = false;
        SetRate(optimizer, baseRates, config, 0, total);
        for (int epoch = 1; epoch <= config.Epochs && !diverged; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double trainLoss = TrainingLoop.Epoch(model, optimizer, Batches.Of(trainX, trainY, globalBatch, shuffle), parallel: parallel, afterStep: loss =>
            {
                step++;
                if (config.RecordEvery > 0 && step % config.RecordEvery == 0) steps.Add(new[] { (double)step, loss });
                if (recorder is not null && step % monitorEvery == 0) recorder.Record(step, optimizer.ParamGroups.First().LearningRate);
                onStep?.Invoke(step, total, loss);
                SetRate(optimizer, baseRates, config, step, total);
                cancel.ThrowIfCancellationRequested();
            });
            double seconds = clock.Elapsed.TotalSeconds;
            diverged = !double.IsFinite(trainLoss);
            parallel?.BroadcastBuffers();
            var (testLoss, accuracy) = TrainingLoop.Evaluate(model, data.TestBatches(512), parallel: parallel);
            epochs.Add(new EpochMetrics(epoch, trainLoss, testLoss, accuracy, seconds, n / Math.Max(seconds, 1e-9)));
            onEpoch?.Invoke(epoch, model, optimizer);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        return (new TrainingResult(config, epochs, steps, diverged, parameters), model);
    }

    private static void SetRate(NormOptimizer optimizer, double[] baseRates, TrainingConfig config, long step, long total)
    {
        double factor = config.WarmupSteps > 0 ? Math.Min(1.0, (step + 1.0) / config.WarmupSteps) : 1.0;
        if (config.Cosine) factor *= 0.5 * (1 + Math.Cos(Math.PI * step / Math.Max(total, 1)));
        int i = 0;
        foreach (var g in optimizer.ParamGroups) g.LearningRate = baseRates[i++] * factor;
    }
}
