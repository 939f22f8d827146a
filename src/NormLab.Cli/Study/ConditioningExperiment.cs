using NormLab.Analysis;
using NormLab.Layers;
using static TorchSharp.torch;

namespace NormLab.Cli.Study;

/// <summary>
/// E1: least squares on raw, centred, standardized and whitened inputs (survey §5.1, the slides'
/// conditioning example): κ of E[xxᵀ], the largest stable learning rate 2/λmax, and the iterations
/// gradient descent needs at η = 1/λmax.
/// </summary>
internal sealed class ConditioningExperiment : Experiment
{
    public override string Id => "E1";
    public override string Title => "Input normalization and conditioning";
    public override string Claim => "Normalizing the input improves the conditioning of least squares: the condition number of E[xx^T] falls from raw to centred to standardized to whitened inputs (about 1), and gradient descent needs fewer iterations.";

    private sealed record Variant(string Name, double Kappa, double LambdaMax, double MaxStableLr, bool ConvergesBelow, bool DivergesAbove,
        int Iterations, bool Converged, List<double[]> Trace);

    public override ExperimentResult Run(StudyContext context)
    {
        var scale = context.Scale;
        var variants = context.Cached($"E1|n={scale.LeastSquaresSamples}|it={scale.LeastSquaresIterations}", () =>
        {
            var (x, y) = Problem(context);
            var list = new List<Variant>();
            var steps = new (string Name, InputNormalization? Mode)[]
            {
                ("raw", null), ("centred", InputNormalization.Center), ("standardized", InputNormalization.Standardize), ("whitened (ZCA)", InputNormalization.ZcaWhiten),
            };
            context.Progress.Start("E1 least squares", steps.Length);
            foreach (var (name, mode) in steps)
            {
                context.Cancel.ThrowIfCancellationRequested();
                var inputs = mode is { } m ? new InputNormalizer(m, eps: 1e-9).Fit(x).Apply(x) : x;
                var spectrum = Conditioning.SpectrumOf(Conditioning.SecondMoment(inputs));
                var below = LeastSquares.GradientDescent(inputs, y, 0.99 * spectrum.MaxStableLearningRate, 1e-6, scale.LeastSquaresIterations);
                var above = LeastSquares.GradientDescent(inputs, y, 1.01 * spectrum.MaxStableLearningRate, 1e-6, scale.LeastSquaresIterations);
                var best = LeastSquares.GradientDescent(inputs, y, spectrum.OptimalLearningRate, 1e-6, scale.LeastSquaresIterations,
                    traceEvery: Math.Max(1, scale.LeastSquaresIterations / 200));
                list.Add(new Variant(name, spectrum.ConditionNumber, spectrum.LambdaMax, spectrum.MaxStableLearningRate,
                    below.Converged || !below.Diverged, above.Diverged, best.Iterations, best.Converged, best.Trace!));
                context.Progress.Advance();
            }
            context.Progress.Finish($"kappa {list[0].Kappa:G3} -> {list[^1].Kappa:G3}");
            return list;
        });

        bool kappaFalls = variants.Zip(variants.Skip(1)).All(p => p.Second.Kappa <= p.First.Kappa * 1.0001);
        bool whiteIsOne = variants[^1].Kappa < 1.01;
        bool fewerIterations = variants[^1].Iterations < variants[0].Iterations && variants[^1].Converged;
        bool boundHolds = variants.All(v => v.DivergesAbove && v.ConvergesBelow);
        string Iter(Variant v) => v.Converged ? $"{v.Iterations}" : $"over {v.Iterations} (not converged)";
        string finding = $"kappa went {string.Join(" -> ", variants.Select(v => $"{v.Kappa:G3} ({v.Name})"))}; iterations to a 1e-6 relative gap at lr = 1/lambda_max: " +
                         $"{string.Join(", ", variants.Select(v => $"{v.Name} {Iter(v)}"))}. Gradient descent diverged just above 2/lambda_max and converged just below it for {variants.Count(v => v.DivergesAbove && v.ConvergesBelow)} of {variants.Count} inputs.";

        var table = new Table("conditioning", "Least squares on each preprocessing of the input: conditioning and gradient descent",
            new[] { "input", "kappa", "lambda_max", "max stable lr (2/lambda_max)", "converges at 0.99x", "diverges at 1.01x", "iterations at 1/lambda_max" },
            variants.Select(v => new object?[] { v.Name, v.Kappa, v.LambdaMax, v.MaxStableLr, v.ConvergesBelow, v.DivergesAbove, v.Converged ? v.Iterations : $">{v.Iterations}" }).ToList());
        var kappa = new Figure("kappa", "Condition number of E[xx^T] by input preprocessing", "input", "condition number kappa (log10)",
            new List<Series> { new("kappa", variants.Select((_, i) => (double)i).ToArray(), variants.Select(v => Math.Log10(v.Kappa)).ToArray()) },
            FigureKind.Bars, XTicks: variants.Select(v => v.Name).ToArray());
        var curves = new Figure("convergence", "Gradient descent at lr = 1/lambda_max", "iteration", "relative loss gap (L - L*)/(L0 - L*)",
            variants.Select(v => new Series(v.Name, v.Trace.Select(p => p[0]).ToArray(), v.Trace.Select(p => p[1]).ToArray())).ToList(), LogY: true);
        return Result(kappaFalls && whiteIsOne && fewerIterations, finding,
            new Dictionary<string, object?>
            {
                ["kappa"] = variants.ToDictionary(v => v.Name, v => v.Kappa),
                ["iterations"] = variants.ToDictionary(v => v.Name, v => v.Iterations),
                ["converged"] = variants.ToDictionary(v => v.Name, v => v.Converged),
                ["kappa_non_increasing"] = kappaFalls, ["whitened_kappa_near_one"] = whiteIsOne, ["fewer_iterations_whitened"] = fewerIterations,
                ["divergence_bound_confirmed"] = boundHolds,
            },
            new List<Table> { table }, new List<Figure> { kappa, curves });
    }

    /// <summary>
    /// The regression problem: synthetic vectors as they are, or Fashion-MNIST images average-pooled to 7×7
    /// (49 features); the target is +1 for the first half of the classes and −1 for the rest.
    /// </summary>
    private static (Tensor X, Tensor Y) Problem(StudyContext context)
    {
        long n = Math.Min(context.Scale.LeastSquaresSamples, context.Vectors.TrainX.shape[0]);
        var x = context.Vectors.TrainX.narrow(0, 0, n);
        if (x.dim() == 4) x = nn.functional.avg_pool2d(x, 4).flatten(1);
        var y = context.Vectors.TrainY.narrow(0, 0, n).lt(context.Vectors.Classes / 2).to(ScalarType.Float64) * 2 - 1;
        return (x.to(ScalarType.Float64), y);
    }
}
