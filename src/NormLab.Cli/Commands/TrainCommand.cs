using System.Globalization;
using System.Text;
using System.Text.Json;
using NormLab.Distributed;
using NormLab.IO;
using NormLab.Models;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab train</c>: trains one configuration and writes its metrics (metrics.csv, metrics.json) and a
/// checkpoint (model.ckpt) that <c>normlab analyze hessian --checkpoint</c> can load.
/// </summary>
internal static class TrainCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var world = Communicator.World;
        return DistributedRun.Guard(world, "train", () => Run(args, world.IsRoot ? stdout : TextWriter.Null, world));
    }

    private static int Run(string[] args, TextWriter stdout, Communicator world)
    {
        var cl = new CommandLine("train", args, new HashSet<string> { "cosine" });
        var config = new TrainingConfig
        {
            Model = cl.GetChoice("model", "mlp", "cnn") ?? "cnn",
            Norm = cl.Get("norm") ?? "bn",
            WeightNorm = cl.Get("weight-norm"),
            Optimizer = cl.Get("optim") ?? "sgd(lr=0.05,momentum=0.9)",
            BatchSize = (int)(cl.GetLong("batch-size") ?? 64),
            Epochs = (int)(cl.GetLong("epochs") ?? 1),
            TrainLimit = (int)(cl.GetLong("limit") ?? 0),
            Seed = cl.GetLong("seed") ?? 0,
            Cosine = cl.Flag("cosine"),
            WarmupSteps = (int)(cl.GetLong("warmup") ?? 0),
            Widths = cl.Get("widths") is { } w ? ParseWidths(w) : null,
            RecordEvery = (int)(cl.GetLong("record-every") ?? 0),
        };
        string data = cl.GetChoice("data", DataSets.Names) ?? "synthetic";
        string outDir = cl.Get("out") ?? Path.Combine("out", "train");
        int threads = (int)(cl.GetLong("threads") ?? Math.Max(1, Environment.ProcessorCount / LocalRanks()));
        int? monitorEvery = (int?)cl.GetLong("monitor");
        cl.EnsureAllUsed();
        if (monitorEvery is < 1) throw new UsageException($"train: --monitor ({monitorEvery}) must be at least 1");
        if (threads < 1) throw new UsageException($"train: --threads ({threads}) must be at least 1");
        if (config.RecordEvery < 0) throw new UsageException($"train: --record-every ({config.RecordEvery}) must be >= 0");

        var output = world.IsRoot ? OutputDirectory.Open(outDir) : null;
        set_num_threads(threads);
        using var dataset = DataSets.Load(data, config.Model, config.Seed, config.TrainLimit > 0 ? config.TrainLimit : 6000, stdout);
        var progress = Study.Progress.ForConsole(stdout);
        progress.Start($"train {config.Model} {config.Norm}", 1);
        long reported = 0;
        if (world.Size > 1)
            stdout.WriteLine($"train: data-parallel over {world.Size} processes, batch {config.BatchSize} per process, global batch {(long)config.BatchSize * world.Size}");
        var (result, model) = TrainingJob.Run(config, dataset, onStep: (step, total, loss) =>
        {
            if (reported == 0) progress.Start($"train {config.Model} {config.Norm}", total);
            progress.Advance(step - reported);
            reported = step;
        }, monitor: monitorEvery is null || output is null ? null : output.File("monitor.csv"), monitorEvery: monitorEvery ?? 10, world: world);
        progress.Finish(result.Diverged ? "diverged" : $"test accuracy {result.Epochs[^1].TestAccuracy:P2}");
        if (world.Size > 1)
        {
            bool agree = new DataParallel(model, world).ReplicasAgree();
            stdout.WriteLine(agree
                ? $"train: the {world.Size} replicas hold bit-identical parameters and buffers"
                : $"train: warning: the {world.Size} replicas' parameters differ (rank 0's are written)");
        }
        if (output is null) return result.Diverged ? 3 : 0;

        var csv = new StringBuilder("epoch,train_loss,test_loss,test_accuracy,seconds,images_per_second\n");
        foreach (var e in result.Epochs)
            csv.AppendLine(string.Join(",", new double[] { e.Epoch, e.TrainLoss, e.TestLoss, e.TestAccuracy, e.Seconds, e.ImagesPerSecond }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        output.WriteText("metrics.csv", csv.ToString());
        JsonFiles.Write(output.File("metrics.json"), new { data, processes = world.Size, global_batch = (long)config.BatchSize * world.Size, result });
        var checkpoint = Checkpoint.Of(model);
        checkpoint.Metadata["config"] = JsonSerializer.Serialize(config);
        checkpoint.Metadata["data"] = data;
        checkpoint.Save(output.File("model.ckpt"));
        stdout.WriteLine($"train: {config} on {data}: test error {result.TestError:P2} -> {output.Path}");
        return result.Diverged ? 3 : 0;
    }

    /// <summary>The processes of this job on this machine (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE), 1 outside mpirun.</summary>
    private static int LocalRanks() =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out var n) && n > 0 ? n : 1;

    private static long[] ParseWidths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        return parts.All(p => long.TryParse(p, out var v) && v > 0)
            ? parts.Select(long.Parse).ToArray()
            : throw new UsageException($"train: --widths must be positive integers separated by commas, got '{text}'");
    }
}
