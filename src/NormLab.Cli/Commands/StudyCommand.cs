using System.Diagnostics;
using System.Runtime.InteropServices;
using NormLab.Cli.Study;
using NormLab.Data;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab study</c>: runs the experiments that reproduce the survey's claims and writes the report.
/// Completed runs are cached in the output directory, so an interrupted study resumes where it stopped.
/// </summary>
internal static class StudyCommand
{
    /// <summary>Bumped when an experiment's design changes, so cached experiment results are not reused.</summary>
    private const string Version = "1";

    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("study", args, new HashSet<string> { "quick" });
        string data = cl.GetChoice("data", DataSets.Names) ?? "synthetic";
        bool quick = cl.Flag("quick");
        string? only = cl.Get("only");
        long seed = cl.GetLong("seed") ?? 0;
        string outDir = cl.Get("out") ?? Path.Combine("out", "study");
        int threads = (int)(cl.GetLong("threads") ?? Environment.ProcessorCount);
        cl.EnsureAllUsed();
        if (threads < 1) throw new UsageException($"study: --threads ({threads}) must be at least 1");
        var experiments = Select(only);
        if (data == "fashion-mnist" && !FashionMnist.IsAvailable())
            throw new FileNotFoundException($"study: Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory}; install the Debian package {FashionMnist.Package} (apt-get install {FashionMnist.Package})");
        var output = OutputDirectory.Open(outDir);

        set_num_threads(threads);
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var progress = Progress.ForConsole(stdout);
        var clock = Stopwatch.StartNew();
        string started = DateTime.Now.ToString("yyyy-MM-dd HH:mm");
        var results = new List<ExperimentResult>();
        var cache = new RunCache(Path.Combine(output.Path, "cache"));
        try
        {
            progress.Line($"study: {(quick ? "quick " : "")}{data} data, seed {seed}, {threads} threads, experiments {string.Join(", ", experiments.Select(e => e.Id))} -> {output.Path}");
            using var images = data == "fashion-mnist" ? FashionMnist.Load() : SyntheticData.Images(seed, train: quick ? 4000 : 12000, test: quick ? 1000 : 2000);
            using var vectors = data == "fashion-mnist" ? null : SyntheticData.Vectors(seed, train: 6000, test: 1000);
            var context = new StudyContext(data, images, vectors ?? images, quick ? StudyScale.Quick : StudyScale.Full, quick, seed, cache, progress, cancel.Token);
            foreach (var experiment in experiments)
            {
                var experimentClock = Stopwatch.StartNew();
                var result = cache.GetOrRun(context.Key($"experiment|{experiment.Id}|v{Version}"), () =>
                {
                    var r = experiment.Run(context);
                    r.Seconds = experimentClock.Elapsed.TotalSeconds;
                    return r;
                });
                results.Add(result);
                progress.Line($"{result.Id} {result.Title}: claim {(result.Held ? "held" : "did NOT hold")}. {result.Finding}");
                Report.Write(output.Path, Info(data, quick, seed, threads, started, clock), results);
            }
            progress.Line($"study: done in {clock.Elapsed.TotalMinutes:F1} min ({cache.Hits} cached, {cache.Misses} computed); report: {Path.Combine(output.Path, "report.html")}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            if (results.Count > 0) Report.Write(output.Path, Info(data, quick, seed, threads, started, clock), results);
            stdout.WriteLine();
            Console.Error.WriteLine($"normlab study: interrupted; {cache.Misses} completed runs were kept in {Path.Combine(output.Path, "cache")} and the next run resumes from them");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static StudyInfo Info(string data, bool quick, long seed, int threads, string started, Stopwatch clock) =>
        new(data, quick, seed, threads, started, clock.Elapsed.TotalSeconds, $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}");

    /// <summary>The experiments named in --only (comma-separated ids), or all.</summary>
    /// <exception cref="UsageException">an unknown id; the message lists the valid ones.</exception>
    internal static IReadOnlyList<Experiment> Select(string? only)
    {
        if (only is null) return Experiment.All;
        var ids = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = ids.FirstOrDefault(id => Experiment.All.All(e => !e.Id.Equals(id, StringComparison.OrdinalIgnoreCase)));
        if (ids.Length == 0 || unknown is not null)
            throw new UsageException($"study: unknown experiment '{unknown ?? only}' in --only; valid: {string.Join(", ", Experiment.All.Select(e => e.Id))}");
        return Experiment.All.Where(e => ids.Contains(e.Id, StringComparer.OrdinalIgnoreCase)).ToList();
    }
}
