using System.Diagnostics;
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
        var cache = new RunCache(Path.Combine(output.Path, "cache"));
        var clock = Stopwatch.StartNew();
        try
        {
            progress.Line($"study: {(quick ? "quick " : "")}{data} data, seed {seed}, {threads} threads, experiments {string.Join(", ", experiments.Select(e => e.Id))} -> {output.Path}");
            StudyRunner.Run(new StudyOptions(data, quick, seed, output.Path, threads, experiments), Scale(quick), progress, cache, cancel.Token);
            progress.Line($"study: done in {clock.Elapsed.TotalMinutes:F1} min ({cache.Hits} cached, {cache.Misses} computed); report: {Path.Combine(output.Path, "report.html")}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            stdout.WriteLine();
            Console.Error.WriteLine($"normlab study: interrupted; {cache.Misses} completed runs were kept in {Path.Combine(output.Path, "cache")} and the next run resumes from them");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>The experiments named in --only (comma-separated ids), or all.</summary>
    /// <exception cref="UsageException">an unknown id; the message lists the valid ones.</exception>
    /// <summary>The scale: quick or full; NORMLAB_STUDY_SCALE=tiny (a test hook) gives the tiny test scale.</summary>
    private static StudyScale Scale(bool quick) =>
        Environment.GetEnvironmentVariable("NORMLAB_STUDY_SCALE") == "tiny" ? StudyScale.Tiny : quick ? StudyScale.Quick : StudyScale.Full;

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
