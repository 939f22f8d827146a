using NormLab.Analysis;
using NormLab.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Cli.Study;

/// <summary>
/// E4: the Hessian of the same small CNN without and with BN (survey §5.1; PyHessian): top eigenvalue,
/// trace and spectral density of the training loss after the same short training.
/// </summary>
internal sealed class HessianExperiment : Experiment
{
    private sealed record Spectrum(string Name, double TopEigenvalue, double Trace, long Parameters, double Loss,
        double[] Grid, double[] Density, double[] Nodes, double[] Weights);

    public override string Id => "E4";
    public override string Title => "Hessian";
    public override string Claim => "Normalization improves conditioning: with BN the loss Hessian has a smaller top eigenvalue (a smoother landscape) than without.";

    public override ExperimentResult Run(StudyContext context)
    {
        var s = context.Scale;
        var spectra = new[] { ("no normalization", "none"), ("BN", "bn") }.Select(n =>
            context.Cached($"E4|{n.Item2}|n={s.HessianSamples}|it={s.PowerIterations}|tr={s.TraceProducts}|l={s.LanczosSteps}|sub={s.Subset}|ep={s.Epochs}",
                () => Measure(context, n.Item1, n.Item2))).ToList();
        var none = spectra[0];
        var bn = spectra[1];
        bool smaller = bn.TopEigenvalue < none.TopEigenvalue;
        string finding = $"After the same training ({s.Epochs} epoch(s) on {s.Subset} images), the top Hessian eigenvalue was {none.TopEigenvalue:G3} without normalization and {bn.TopEigenvalue:G3} with BN " +
                         $"({none.TopEigenvalue / bn.TopEigenvalue:F1}x); the traces were {none.Trace:G3} and {bn.Trace:G3}, on {s.HessianSamples} training samples.";
        var density = new Figure("density", "Hessian spectral density (stochastic Lanczos quadrature)", "eigenvalue", "density (log10)",
            spectra.Select(sp => new Series(sp.Name, sp.Grid, sp.Density.Select(d => Math.Log10(Math.Max(d, 1e-12))).ToArray())).ToList());
        var bars = new Figure("top", "Top Hessian eigenvalue and trace", "network", "value (log10)",
            new List<Series>
            {
                new("top eigenvalue", new[] { 0.0, 1 }, spectra.Select(sp => Math.Log10(Math.Abs(sp.TopEigenvalue))).ToArray()),
                new("trace", new[] { 0.0, 1 }, spectra.Select(sp => Math.Log10(Math.Abs(sp.Trace))).ToArray()),
            }, FigureKind.Bars, XTicks: spectra.Select(sp => sp.Name).ToArray());
        var table = new Table("hessian", "Hessian of the training loss of the small CNN",
            new[] { "network", "parameters", "loss", "top eigenvalue", "trace (Hutch++)", "top eigenvalue / (trace/parameters)" },
            spectra.Select(sp => new object?[] { sp.Name, sp.Parameters, sp.Loss, sp.TopEigenvalue, sp.Trace, sp.TopEigenvalue / (sp.Trace / sp.Parameters) }).ToList());
        return Result(smaller, finding,
            new Dictionary<string, object?>
            {
                ["top_eigenvalue"] = spectra.ToDictionary(sp => sp.Name, sp => sp.TopEigenvalue),
                ["trace"] = spectra.ToDictionary(sp => sp.Name, sp => sp.Trace),
                ["bn_smaller_top_eigenvalue"] = smaller,
            },
            new List<Table> { table }, new List<Figure> { density, bars });
    }

    private static Spectrum Measure(StudyContext context, string name, string norm)
    {
        var s = context.Scale;
        var config = new TrainingConfig
        {
            Model = "cnn", Norm = norm, Optimizer = "sgd(lr=0.02,momentum=0.9)", BatchSize = 64, Epochs = s.Epochs, TrainLimit = s.Subset, Seed = context.Seed,
        };
        var (_, model) = context.RunTraining(config, $"E4 train {name}");
        model.train();
        long n = Math.Min(s.HessianSamples, context.Images.TrainX.shape[0]);
        var batch = (context.Images.TrainX.narrow(0, 0, n), context.Images.TrainY.narrow(0, 0, n));
        var h = new HessianOperator(model, (logits, labels) => nn.functional.cross_entropy(logits, labels), new[] { batch });
        int total = s.PowerIterations + s.TraceProducts + s.LanczosSteps;
        context.Progress.Start($"E4 Hessian {name}", 3);
        var (top, _) = HessianSpectrum.TopEigenvalues(h, 1, EigenMethod.Power, s.PowerIterations, 1e-4, context.Seed);
        context.Progress.Advance();
        context.Cancel.ThrowIfCancellationRequested();
        var trace = HessianSpectrum.TraceHutchPlusPlus(h, s.TraceProducts, context.Seed);
        context.Progress.Advance();
        context.Cancel.ThrowIfCancellationRequested();
        var d = HessianSpectrum.Density(h, s.LanczosSteps, runs: 1, gridPoints: 400, seed: context.Seed);
        context.Progress.Advance();
        context.Progress.Finish($"top eigenvalue {top[0]:G3}, trace {trace.Trace:G3} ({total} products budgeted)");
        return new Spectrum(name, top[0], trace.Trace, h.Dimension, h.Loss(), d.Grid, d.Values, d.Nodes, d.Weights);
    }
}
