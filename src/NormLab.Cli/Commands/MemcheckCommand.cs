using System.Text.Json;
using NormLab.Analysis;
using NormLab.Data;
using NormLab.IO;
using NormLab.Models;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab memcheck</c>: trains the study's CNN for N steps with every normalizer of the study (and
/// runs M Hessian-vector products) and checks that the process's resident memory (VmRSS) stays flat
/// after a warm-up, i.e. that no native tensor leaks per step.
/// </summary>
internal static class MemcheckCommand
{
    /// <summary>The study's normalizers (E2, E4) and weight normalizations (E5, as <c>weight:SPEC</c>).</summary>
    internal static readonly string[] DefaultNorms =
    {
        "none", "bn", "ln", "in(affine=true)", "gn(groups=4)", "bgn(groups=4)", "sn", "itn(group=16,T=5)",
        "pca(group=16)", "zca(group=16)", "cd(group=16)", "weight:wn", "weight:ws", "weight:oni(T=5)",
    };

    /// <summary>Growth (MB) from the warm-up to the end at which a case fails.</summary>
    internal const double LimitMb = 50;

    private const int BatchSize = 8;
    private const int ImageSize = 12;

    public static int Run(string[] args, TextWriter stdout)
    {
        var cl = new CommandLine("memcheck", args, new HashSet<string>());
        long steps = cl.GetLong("steps") ?? 3000;
        long hvps = cl.GetLong("hvp") ?? 1000;
        string? normsText = cl.Get("norms");
        string? jsonPath = cl.Get("json");
        cl.EnsureAllUsed();
        if (steps < 10) throw new UsageException($"memcheck: --steps must be at least 10, got {steps}");
        if (hvps < 0) throw new UsageException($"memcheck: --hvp must be at least 0, got {hvps}");
        var norms = normsText is null ? DefaultNorms.ToList() : BenchCommand.SplitSpecs(normsText);
        if (norms.Count == 0) throw new UsageException("memcheck: --norms is empty; give specs such as bn,gn(groups=4),weight:wn");
        if (jsonPath is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(jsonPath))))
            throw new IOException($"memcheck --json: directory '{Path.GetDirectoryName(Path.GetFullPath(jsonPath))}' does not exist");

        using var data = SyntheticData.Images(seed: 1, train: 256, test: 16, dtype: ScalarType.Float32);
        using var images = data.TrainX.narrow(2, 8, ImageSize).narrow(3, 8, ImageSize).contiguous();
        var rows = new List<MemcheckRow>();
        foreach (var spec in norms)
        {
            var row = TrainCase(spec, images, data.TrainY, data.Classes, steps);
            rows.Add(row);
            stdout.WriteLine(row.Line());
        }
        if (hvps > 0)
        {
            var row = HvpCase(images, data.TrainY, data.Classes, hvps);
            rows.Add(row);
            stdout.WriteLine(row.Line());
        }
        if (jsonPath is not null)
        {
            AtomicFile.WriteText(jsonPath, JsonSerializer.Serialize(new
            {
                limit_mb = LimitMb, steps, hvps, batch_size = BatchSize, image_size = ImageSize,
                cases = rows.Select(r => new { name = r.Name, iterations = r.Iterations, warm_mb = r.WarmMb, end_mb = r.EndMb, growth_mb = r.GrowthMb }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            stdout.WriteLine($"memcheck: wrote {jsonPath}");
        }
        var failed = rows.Where(r => r.GrowthMb >= LimitMb).ToList();
        if (failed.Count > 0)
            throw new InvalidOperationException($"native memory grew by {LimitMb} MB or more for {string.Join(", ", failed.Select(r => $"{r.Name} (+{r.GrowthMb:F1} MB)"))}");
        stdout.WriteLine($"memcheck: all {rows.Count} cases grew by less than {LimitMb} MB");
        return 0;
    }

    private static MemcheckRow TrainCase(string spec, Tensor images, Tensor labels, int classes, long steps)
    {
        bool weight = spec.StartsWith("weight:", StringComparison.Ordinal);
        var config = new TrainingConfig
        {
            Model = "cnn", Norm = weight ? "none" : spec, WeightNorm = weight ? spec["weight:".Length..] : null,
            Optimizer = "sgd(lr=0.01,momentum=0.9)", BatchSize = BatchSize, Seed = 7,
        };
        using var model = TrainingJob.BuildModel(config, images.shape[1..], classes);
        using var optimizer = OptimizerRegistry.Create(config.Optimizer, model.parameters());
        long n = images.shape[0];
        long warm = Math.Max(1, steps / 10);
        double warmMb = 0;
        model.train();
        for (long step = 0; step < steps; step++)
        {
            using (var scope = NewDisposeScope())
            {
                long start = step * BatchSize % (n - BatchSize + 1);
                var x = images.narrow(0, start, BatchSize);
                var y = labels.narrow(0, start, BatchSize);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(x), y);
                loss.backward();
                optimizer.step();
            }
            if (step + 1 == warm) warmMb = ResidentMemory.Megabytes();
        }
        return new MemcheckRow(spec, steps, warmMb, ResidentMemory.Megabytes());
    }

    private static MemcheckRow HvpCase(Tensor images, Tensor labels, int classes, long hvps)
    {
        var config = new TrainingConfig { Model = "cnn", Norm = "bn", Widths = new long[] { 4, 8, 8 }, Seed = 7 };
        using var model = TrainingJob.BuildModel(config, images.shape[1..], classes);
        model.to(ScalarType.Float64);
        using var x = images.narrow(0, 0, 16).to(ScalarType.Float64);
        using var y = labels.narrow(0, 0, 16).clone();
        var hessian = new HessianOperator(model, (o, t) => nn.functional.cross_entropy(o, t), new[] { (x, y) });
        long warm = Math.Max(1, hvps / 10);
        double warmMb = 0;
        var generator = new Generator(3);
        for (long i = 0; i < hvps; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var v = randn(new[] { hessian.Dimension }, ScalarType.Float64, generator: generator);
                hessian.Apply(v);
            }
            if (i + 1 == warm) warmMb = ResidentMemory.Megabytes();
        }
        return new MemcheckRow("hvp(cnn,bn)", hvps, warmMb, ResidentMemory.Megabytes());
    }
}

/// <summary>One memcheck case: resident memory after the warm-up (10% of the iterations) and at the end.</summary>
internal sealed record MemcheckRow(string Name, long Iterations, double WarmMb, double EndMb)
{
    /// <summary>End minus warm-up, in MB.</summary>
    public double GrowthMb => EndMb - WarmMb;

    /// <summary>The report line.</summary>
    public string Line() => $"{Name,-22} {Iterations,6} iterations  rss after warm-up {WarmMb,8:F1} MB  at end {EndMb,8:F1} MB  growth {(GrowthMb >= 0 ? "+" : "") + GrowthMb.ToString("F1"),7} MB";
}
