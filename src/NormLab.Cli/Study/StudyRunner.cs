using System.Diagnostics;
using System.Runtime.InteropServices;
using NormLab.Data;

namespace NormLab.Cli.Study;

/// <summary>What a study runs on.</summary>
internal sealed record StudyOptions(string Data, StudyScale Scale, long Seed, string OutputDirectory, int Threads, IReadOnlyList<Experiment> Experiments);

/// <summary>
/// Runs the study's experiments in order, reusing every cached run, and rewrites the report after each
/// experiment, so finished results are on disk at every point.
/// </summary>
internal static class StudyRunner
{
    /// <summary>Runs the study; cancellation stops it between runs, with the report of what finished written.</summary>
    /// <exception cref="OperationCanceledException">cancelled (completed runs stay cached).</exception>
    public static IReadOnlyList<ExperimentResult> Run(StudyOptions options, Progress progress, RunCache cache, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        string started = DateTime.Now.ToString("yyyy-MM-dd HH:mm");
        var results = new List<ExperimentResult>();
        StudyInfo Info() => new(options.Data, options.Scale.Name, options.Seed, options.Threads, started, clock.Elapsed.TotalSeconds,
            $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}");
        try
        {
            using var rawImages = options.Data == "fashion-mnist" ? FashionMnist.Load()
                : SyntheticData.Images(options.Seed, options.Scale.SyntheticTrain, options.Scale.SyntheticTest);
            // The networks see standardized inputs, as in practice; E1 studies the raw inputs' conditioning.
            using var images = rawImages.StandardizeFeatures();
            using var vectors = options.Data == "fashion-mnist" ? null : SyntheticData.Vectors(options.Seed, options.Scale.SyntheticTrain, options.Scale.SyntheticTest);
            var context = new StudyContext(options.Data, images, vectors ?? rawImages, options.Scale, options.Seed, cache, progress, cancel);
            foreach (var experiment in options.Experiments)
            {
                var experimentClock = Stopwatch.StartNew();
                var result = cache.GetOrRun(context.Key($"experiment|{experiment.Id}|v{experiment.Version}"), () =>
                {
                    var r = experiment.Run(context);
                    r.Seconds = experimentClock.Elapsed.TotalSeconds;
                    return r;
                });
                results.Add(result);
                progress.Line($"{result.Id} {result.Title}: claim {(result.Held ? "held" : "did NOT hold")}. {result.Finding}");
                Report.Write(options.OutputDirectory, Info(), results);
            }
            return results;
        }
        catch (OperationCanceledException)
        {
            if (results.Count > 0) Report.Write(options.OutputDirectory, Info(), results);
            throw;
        }
    }
}
