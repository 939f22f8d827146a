using NormLab.Data;
using NormLab.Models;

namespace NormLab.Cli.Study;

/// <summary>What experiments share: the data, the scale, the cache of completed runs, progress and cancellation.</summary>
internal sealed class StudyContext
{
    public StudyContext(string dataName, LabeledDataset images, LabeledDataset vectors, StudyScale scale, long seed,
        RunCache cache, Progress progress, CancellationToken cancel)
    {
        DataName = dataName;
        Images = images;
        Vectors = vectors;
        Scale = scale;
        Seed = seed;
        Cache = cache;
        Progress = progress;
        Cancel = cancel;
    }

    public string DataName { get; }
    public LabeledDataset Images { get; }
    public LabeledDataset Vectors { get; }
    public StudyScale Scale { get; }
    public long Seed { get; }
    public RunCache Cache { get; }
    public Progress Progress { get; }
    public CancellationToken Cancel { get; }

    /// <summary>A cache key for work of <paramref name="what"/> on this study's data, scale and seed.</summary>
    public string Key(string what) => $"{DataName}|standardized|{Scale.Name}|seed={Seed}|{what}";

    /// <summary>Trains a configuration on the images (or returns the cached result), with a progress bar.</summary>
    public TrainingResult Train(TrainingConfig config, string label) =>
        Cached("train|" + config, () => RunTraining(config, label).Result);

    /// <summary>
    /// Trains a configuration on the images with a progress bar and returns the model too (not cached);
    /// <paramref name="onEpoch"/> sees the model after every epoch.
    /// </summary>
    public (TrainingResult Result, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> Model) RunTraining(
        TrainingConfig config, string label, Action<int, TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>>? onEpoch = null)
    {
        Cancel.ThrowIfCancellationRequested();
        long done = 0;
        Progress.Start(label, 1);
        var (result, model) = TrainingJob.Run(config, Images, onStep: (step, total, _) =>
        {
            if (done == 0) Progress.Start(label, total);
            Progress.Advance(step - done);
            done = step;
        }, onEpoch: onEpoch is null ? null : (e, m, _) => onEpoch(e, m), cancel: Cancel);
        Progress.Finish(result.Diverged ? "diverged" : $"test error {result.TestError:P1}, {result.Epochs.Average(e => e.ImagesPerSecond):F0} img/s");
        return (result, model);
    }

    /// <summary>Runs and caches any other unit of work.</summary>
    public T Cached<T>(string what, Func<T> run)
    {
        Cancel.ThrowIfCancellationRequested();
        return Cache.GetOrRun(Key(what), run);
    }
}
