using NormLab.Framework;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>The outcome of gradient descent on a least-squares problem.</summary>
/// <param name="LearningRate">The step size used.</param>
/// <param name="Iterations">Iterations until the loss gap fell below the tolerance, or the limit.</param>
/// <param name="Converged">Whether the tolerance was reached.</param>
/// <param name="Diverged">Whether the loss grew without bound (above 1e12 times its start, or not finite).</param>
/// <param name="FinalGap">L(w) − L(w*) at the end.</param>
/// <param name="Trace">(iteration, relative gap) every traceEvery iterations, when asked for.</param>
public sealed record DescentResult(double LearningRate, int Iterations, bool Converged, bool Diverged, double FinalGap, List<double[]>? Trace = null);

/// <summary>
/// The slides' least-squares example: for L(w) = ½·mean((Xw − y)²), H = E[xxᵀ]; gradient descent with
/// step η converges when η &lt; 2/λmax, diverges above, and needs about κ·log(1/tol) steps at η = 1/λmax.
/// </summary>
public static class LeastSquares
{
    /// <summary>Runs gradient descent from w = 0 with step <paramref name="learningRate"/> (float64).</summary>
    /// <param name="x">Inputs [n, d], n ≥ 2.</param>
    /// <param name="y">Targets [n].</param>
    /// <param name="learningRate">η &gt; 0.</param>
    /// <param name="tolerance">Stop when L(w) − L(w*) ≤ tolerance·max(L(0) − L(w*), tiny). Default 1e-8.</param>
    /// <param name="maxIterations">At most this many steps. Default 100000.</param>
    /// <param name="traceEvery">Record the relative gap every this many iterations (0 = not at all).</param>
    /// <exception cref="ArgumentException">mismatched shapes or invalid settings.</exception>
    public static DescentResult GradientDescent(Tensor x, Tensor y, double learningRate, double tolerance = 1e-8, int maxIterations = 100_000, int traceEvery = 0)
    {
        if (x.dim() != 2 || x.shape[0] < 2)
            throw new ArgumentException($"x of shape {Checks.Shape(x.shape)} must be [n, d] with n >= 2", nameof(x));
        if (y.dim() != 1 || y.shape[0] != x.shape[0])
            throw new ArgumentException($"y of shape {Checks.Shape(y.shape)} must be [{x.shape[0]}]", nameof(y));
        Checks.Positive(learningRate, "learning_rate");
        Checks.Positive(tolerance, nameof(tolerance));
        using var scope = NewDisposeScope();
        var a = x.to(ScalarType.Float64);
        var b = y.to(ScalarType.Float64);
        long n = a.shape[0];
        var h = a.t().matmul(a) / n;
        var g0 = a.t().matmul(b) / n;
        var best = linalg.lstsq(a, b.unsqueeze(1)).Solution.squeeze(1);
        double Loss(Tensor w) => 0.5 * (a.matmul(w) - b).square().mean().item<double>();
        double floor = Loss(best);
        var w = zeros(a.shape[1], dtype: ScalarType.Float64);
        double start = Loss(w) - floor;
        double target = tolerance * Math.Max(start, 1e-300);
        var trace = traceEvery > 0 ? new List<double[]> { new[] { 0.0, 1.0 } } : null;
        for (int it = 1; it <= maxIterations; it++)
        {
            using var step = NewDisposeScope();
            w.sub_((h.matmul(w) - g0) * learningRate);
            double gap = Loss(w) - floor;
            if (trace is not null && it % traceEvery == 0) trace.Add(new[] { it, gap / Math.Max(start, 1e-300) });
            if (!double.IsFinite(gap) || gap > 1e12 * Math.Max(start, 1e-300))
                return new DescentResult(learningRate, it, false, true, gap, trace);
            if (gap <= target)
                return new DescentResult(learningRate, it, true, false, gap, trace);
        }
        return new DescentResult(learningRate, maxIterations, false, false, Loss(w) - floor, trace);
    }
}
