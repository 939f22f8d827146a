using NormLab.Analysis;
using NormLab.IO;
using NormLab.Models;
using NormLab.Registry;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Commands;

/// <summary>
/// <c>normlab analyze conditioning|hessian|snd</c>: the survey's analysis tools on data from .npy files
/// (and, for the Hessian, on the study's networks), with results as JSON.
/// </summary>
internal static class AnalyzeCommand
{
    private static readonly string[] Kinds = { "conditioning", "hessian", "snd" };

    public static int Run(string[] args, TextWriter stdout)
    {
        if (args.Length == 0 || !Kinds.Contains(args[0]))
            throw new UsageException($"analyze: give what to analyze first: {string.Join("|", Kinds)}{(args.Length > 0 ? $", got '{args[0]}'" : "")}");
        var cl = new CommandLine($"analyze {args[0]}", args[1..], new HashSet<string> { "centered", "trace", "density" });
        return args[0] switch
        {
            "conditioning" => ConditioningRun(cl, stdout),
            "hessian" => HessianRun(cl, stdout),
            _ => SndRun(cl, stdout),
        };
    }

    private static int ConditioningRun(CommandLine cl, TextWriter stdout)
    {
        string input = cl.Require("input");
        bool centered = cl.Flag("centered");
        string json = cl.Require("json");
        cl.EnsureAllUsed();
        var x = TensorFiles.ReadFloat(input, "--input", ScalarType.Float64);
        var matrix = centered ? Conditioning.Covariance(x) : Conditioning.SecondMoment(x);
        var s = Conditioning.SpectrumOf(matrix);
        JsonFiles.Write(json, new Dictionary<string, object>
        {
            ["matrix"] = centered ? "covariance" : "second_moment",
            ["eigenvalues"] = s.Eigenvalues,
            ["condition_number"] = s.ConditionNumber,
            ["lambda_max"] = s.LambdaMax,
            ["optimal_lr"] = s.OptimalLearningRate,
            ["max_stable_lr"] = s.MaxStableLearningRate,
        });
        stdout.WriteLine($"analyze conditioning: kappa = {s.ConditionNumber:G6}, lambda_max = {s.LambdaMax:G6} -> {json}");
        return 0;
    }

    private static int HessianRun(CommandLine cl, TextWriter stdout)
    {
        string model = cl.GetChoice("model", "linear", "mlp", "cnn") ?? throw new UsageException("analyze hessian: missing required option --model");
        if (model != "linear") return NetworkHessian(cl, model, stdout);
        string input = cl.Require("input");
        string target = cl.Require("target");
        int topK = (int)(cl.GetLong("top-k") ?? 1);
        bool trace = cl.Flag("trace");
        bool density = cl.Flag("density");
        long seed = cl.GetLong("seed") ?? 0;
        string json = cl.Require("json");
        cl.EnsureAllUsed();
        var x = TensorFiles.ReadFloat(input, "--input", ScalarType.Float64);
        var y = TensorFiles.ReadFloat(target, "--target", ScalarType.Float64);
        if (x.dim() != 2 || x.shape[0] < 1)
            throw new ArgumentException($"--input must be a non-empty [n, d] (rows are samples), got shape {TensorFiles.Shape(x)}");
        if (y.dim() == 1) y = y.unsqueeze(1);
        if (y.dim() != 2 || y.shape[0] != x.shape[0])
            throw new ArgumentException($"--target must be [{x.shape[0]}, out] or [{x.shape[0]}], got shape {TensorFiles.Shape(y)}");
        var linear = nn.Linear(x.shape[1], y.shape[1], hasBias: false);
        linear.to(ScalarType.Float64);
        var h = new HessianOperator(linear, (o, t) => 0.5 * (o - t).square().sum(new long[] { 1 }).mean(), new[] { (x, y) });
        Write(json, h, topK, trace, density, seed, stdout, tolerance: 1e-13, iterations: 5000);
        return 0;
    }

    /// <summary>
    /// The Hessian of the study's networks: built from --norm (and --widths), or from a checkpoint written by
    /// <c>normlab train</c> (its configuration is read from the checkpoint), on the first --samples training
    /// samples of --data, cross-entropy loss, in training mode (batch statistics) unless --mode eval.
    /// </summary>
    private static int NetworkHessian(CommandLine cl, string modelName, TextWriter stdout)
    {
        string? checkpointPath = cl.Get("checkpoint");
        string? norm = cl.Get("norm");
        string data = cl.GetChoice("data", DataSets.Names) ?? "synthetic";
        int samples = (int)(cl.GetLong("samples") ?? 256);
        bool train = (cl.GetChoice("mode", "train", "eval") ?? "train") == "train";
        int topK = (int)(cl.GetLong("top-k") ?? 1);
        bool trace = cl.Flag("trace");
        bool density = cl.Flag("density");
        long seed = cl.GetLong("seed") ?? 0;
        string json = cl.Require("json");
        cl.EnsureAllUsed();
        if (samples < 2) throw new UsageException($"analyze hessian: --samples ({samples}) must be at least 2");
        var checkpoint = checkpointPath is null ? null : Checkpoint.Load(checkpointPath);
        var config = checkpoint?.Metadata.TryGetValue("config", out var text) == true
            ? System.Text.Json.JsonSerializer.Deserialize<TrainingConfig>(text)!
            : new TrainingConfig { Model = modelName, Norm = norm ?? "bn", Seed = seed };
        if (config.Model != modelName)
            throw new ArgumentException($"--model {modelName} but the checkpoint holds a {config.Model}");
        if (norm is not null && checkpoint is not null && norm != config.Norm)
            throw new ArgumentException($"--norm {norm} but the checkpoint was trained with {config.Norm}");
        using var dataset = DataSets.Load(data, modelName, seed, Math.Max(samples, 2), stdout);
        var network = TrainingJob.BuildModel(config, dataset.FeatureShape, dataset.Classes);
        checkpoint?.LoadInto(network);
        network.train(train);
        long n = Math.Min(samples, dataset.TrainX.shape[0]);
        var batch = (dataset.TrainX.narrow(0, 0, n), dataset.TrainY.narrow(0, 0, n));
        var h = new HessianOperator(network, (logits, labels) => nn.functional.cross_entropy(logits, labels), new[] { batch });
        Write(json, h, topK, trace, density, seed, stdout);
        return 0;
    }

    /// <summary>Computes the requested spectrum quantities and writes them as JSON.</summary>
    /// <remarks>
    /// Power iteration stops at a relative change of <paramref name="tolerance"/>: tight for the linear
    /// model, whose closed form it is checked against, and 1e-6 for networks.
    /// </remarks>
    internal static void Write(string json, HessianOperator h, int topK, bool trace, bool density, long seed, TextWriter stdout,
        double tolerance = 1e-6, int iterations = 100)
    {
        var result = new Dictionary<string, object> { ["parameters"] = h.Dimension, ["loss"] = h.Loss() };
        var (top, _) = HessianSpectrum.TopEigenvalues(h, topK, maxIterations: iterations, tolerance: tolerance, seed: seed);
        result["top_eigenvalues"] = top;
        if (trace)
        {
            var t = HessianSpectrum.Trace(h, 100, seed);
            result["trace"] = t.Trace;
            result["trace_standard_error"] = t.StandardError;
        }
        if (density)
        {
            var d = HessianSpectrum.Density(h, steps: (int)Math.Min(80, h.Dimension), runs: 3, seed: seed);
            result["density"] = new Dictionary<string, object> { ["grid"] = d.Grid, ["values"] = d.Values, ["nodes"] = d.Nodes, ["weights"] = d.Weights, ["sigma"] = d.Sigma };
        }
        JsonFiles.Write(json, result);
        stdout.WriteLine($"analyze hessian: top eigenvalue {top[0]:G6}{(trace ? $", trace {result["trace"]:G6}" : "")} -> {json}");
    }

    private static int SndRun(CommandLine cl, TextWriter stdout)
    {
        string spec = cl.Require("norm");
        string input = cl.Require("input");
        long batch = cl.GetLong("batch-size") ?? throw new UsageException("analyze snd: missing required option --batch-size");
        int samples = (int)(cl.GetLong("samples") ?? 8);
        int probes = (int)(cl.GetLong("probe") ?? 16);
        long seed = cl.GetLong("seed") ?? 0;
        string json = cl.Require("json");
        cl.EnsureAllUsed();
        var x = TensorFiles.ReadFloat(input, "--input", ScalarType.Float64);
        if (x.dim() < 2)
            throw new ArgumentException($"--input must be [n, C, *spatial] with at least 2 dims, got shape {TensorFiles.Shape(x)}");
        var norm = NormRegistry.Create(spec, x.shape[1..]);
        norm.to(ScalarType.Float64);
        var estimate = Snd.Estimate(norm, x, batch, samples, probes, seed);
        JsonFiles.Write(json, new Dictionary<string, object>
        {
            ["norm"] = spec, ["batch_size"] = batch, ["samples"] = samples, ["probes"] = estimate.PerProbe.Length,
            ["snd"] = estimate.Mean, ["per_probe"] = estimate.PerProbe,
        });
        stdout.WriteLine($"analyze snd: {spec} at batch size {batch}: {estimate.Mean:G6} -> {json}");
        return 0;
    }
}
