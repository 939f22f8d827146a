using TorchSharp;
using static TorchSharp.torch;

namespace NormLab.Analysis;

/// <summary>How <see cref="HessianSpectrum.TopEigenvalues"/> finds eigenvalues.</summary>
public enum EigenMethod
{
    /// <summary>Power iteration with deflation: the k eigenvalues of largest magnitude (PyHessian's method).</summary>
    Power,
    /// <summary>Lanczos with full reorthogonalization: the k algebraically largest Ritz values.</summary>
    Lanczos,
}

/// <summary>A trace estimate with its standard error.</summary>
public sealed record TraceEstimate(double Trace, double StandardError, int Probes);

/// <summary>
/// A spectral density estimate: Ritz values (nodes) with weights from stochastic Lanczos quadrature,
/// and the Gaussian-smoothed density on a grid. Nodes' weights sum to 1 per run, averaged over runs.
/// </summary>
public sealed record SpectralDensity(double[] Nodes, double[] Weights, double[] Grid, double[] Values, double Sigma);

/// <summary>
/// The Hessian's spectrum from matrix-vector products (PyHessian, Yao et al. 2020): top eigenvalues by
/// power iteration or Lanczos, the trace by Hutchinson's estimator, and the spectral density by
/// stochastic Lanczos quadrature (Ghorbani, Krishnan &amp; Xiao 2019). Every random draw comes from a
/// seeded private generator.
/// </summary>
public static class HessianSpectrum
{
    /// <summary>The top <paramref name="k"/> eigenvalues (and unit eigenvectors, flat [D]).</summary>
    /// <exception cref="ArgumentException">k outside 1..D, or a non-positive iteration count or tolerance.</exception>
    public static (double[] Values, Tensor[] Vectors) TopEigenvalues(HessianOperator h, int k = 1, EigenMethod method = EigenMethod.Power,
        int maxIterations = 200, double tolerance = 1e-10, long seed = 0)
    {
        if (k < 1 || k > h.Dimension)
            throw new ArgumentException($"k ({k}) must be between 1 and the number of parameters ({h.Dimension})", nameof(k));
        if (maxIterations < 1) throw new ArgumentException($"maxIterations ({maxIterations}) must be at least 1", nameof(maxIterations));
        if (!(tolerance > 0)) throw new ArgumentException($"tolerance ({tolerance}) must be > 0", nameof(tolerance));
        var gen = new Generator((ulong)seed);
        return method == EigenMethod.Power ? Power(h, k, maxIterations, tolerance, gen) : LanczosTop(h, k, gen);
    }

    private static (double[], Tensor[]) Power(HessianOperator h, int k, int maxIterations, double tolerance, Generator gen)
    {
        var values = new List<double>();
        var vectors = new List<Tensor>();
        for (int i = 0; i < k; i++)
        {
            var v = Normalize(randn(h.Dimension, dtype: h.DType, generator: gen));
            double lambda = double.NaN;
            for (int it = 0; it < maxIterations; it++)
            {
                using var scope = NewDisposeScope();
                var hv = Deflate(h.Apply(v), vectors, values, v);
                double next = hv.dot(v).ToDouble();
                double norm = hv.norm().ToDouble();
                if (norm == 0) { lambda = 0; break; }
                v = (hv / norm).MoveToOuterDisposeScope();
                bool converged = !double.IsNaN(lambda) && Math.Abs(next - lambda) <= tolerance * Math.Max(1, Math.Abs(next));
                lambda = next;
                if (converged) break;
            }
            values.Add(lambda);
            vectors.Add(v);
        }
        return (values.ToArray(), vectors.ToArray());
    }

    /// <summary>H·v with the found eigenpairs removed: (H − Σ λ_j u_j u_jᵀ)·v.</summary>
    private static Tensor Deflate(Tensor hv, List<Tensor> vectors, List<double> values, Tensor v)
    {
        for (int j = 0; j < vectors.Count; j++)
            hv = hv - vectors[j] * (values[j] * vectors[j].dot(v));
        return hv;
    }

    private static (double[], Tensor[]) LanczosTop(HessianOperator h, int k, Generator gen)
    {
        int steps = (int)Math.Min(h.Dimension, Math.Max(3 * k + 20, 40));
        var (alpha, beta, basis) = Lanczos(h, Normalize(randn(h.Dimension, dtype: h.DType, generator: gen)), steps);
        var (theta, u) = Tridiagonal(alpha, beta);
        var order = Enumerable.Range(0, theta.Length).OrderByDescending(i => theta[i]).Take(k).ToArray();
        var q = stack(basis, 1);
        return (order.Select(i => theta[i]).ToArray(), order.Select(i => Normalize(q.matmul(u[.., i].to(h.DType)))).ToArray());
    }

    /// <summary>
    /// Hutchinson's estimator tr(H) ≈ mean of vᵀHv over Rademacher vectors v. When the model has no more
    /// parameters than probes, the exact trace Σᵢ eᵢᵀHeᵢ costs no more products, so it is used instead
    /// (standard error 0).
    /// </summary>
    /// <exception cref="ArgumentException">fewer than 1 probe.</exception>
    public static TraceEstimate Trace(HessianOperator h, int probes = 100, long seed = 0)
    {
        if (probes < 1) throw new ArgumentException($"probes ({probes}) must be at least 1", nameof(probes));
        if (h.Dimension <= probes)
        {
            double exact = 0;
            for (long i = 0; i < h.Dimension; i++)
            {
                using var scope = NewDisposeScope();
                var e = zeros(h.Dimension, dtype: h.DType);
                e[i] = 1;
                exact += h.Apply(e)[i].ToDouble();
            }
            return new TraceEstimate(exact, 0, (int)h.Dimension);
        }
        var gen = new Generator((ulong)seed);
        var samples = new double[probes];
        for (int i = 0; i < probes; i++)
        {
            using var scope = NewDisposeScope();
            var v = Rademacher(h.Dimension, h.DType, gen);
            samples[i] = v.dot(h.Apply(v)).ToDouble();
        }
        double mean = samples.Average();
        double variance = probes > 1 ? samples.Sum(s => (s - mean) * (s - mean)) / (probes - 1) : 0;
        return new TraceEstimate(mean, Math.Sqrt(variance / probes), probes);
    }

    /// <summary>
    /// Hutch++ (Meyer, Musco, Musco &amp; Woodruff 2021): with m products, a sketch Q of the range of
    /// H·S (S with m/3 Rademacher columns) takes the dominant part of the spectrum exactly,
    /// tr(QᵀHQ), and Hutchinson's estimator with the remaining products covers (I − QQᵀ)H(I − QQᵀ).
    /// Its error falls as 1/m instead of 1/√m when the spectrum decays, as Hessians' do.
    /// </summary>
    /// <param name="h">The Hessian operator.</param>
    /// <param name="products">The budget m of Hessian-vector products, ≥ 3.</param>
    /// <param name="seed">Seed of the random sketch and probes.</param>
    public static TraceEstimate TraceHutchPlusPlus(HessianOperator h, int products = 100, long seed = 0)
    {
        if (products < 3) throw new ArgumentException($"products ({products}) must be at least 3", nameof(products));
        if (h.Dimension <= products) return Trace(h, products, seed);
        var gen = new Generator((ulong)seed);
        int k = products / 3, rest = products - 2 * k;
        using var scope = NewDisposeScope();
        var sketch = stack(Enumerable.Range(0, k).Select(_ => h.Apply(Rademacher(h.Dimension, h.DType, gen))).ToArray(), 1);
        var (q, _) = linalg.qr(sketch);
        var hq = stack(Enumerable.Range(0, k).Select(i => h.Apply(q[.., i].contiguous())).ToArray(), 1);
        double top = (q * hq).sum().ToDouble();
        var samples = new double[rest];
        for (int i = 0; i < rest; i++)
        {
            var g = Rademacher(h.Dimension, h.DType, gen);
            var r = g - q.matmul(q.t().matmul(g));
            samples[i] = r.dot(h.Apply(r)).ToDouble();
        }
        double mean = samples.Average();
        double variance = rest > 1 ? samples.Sum(s => (s - mean) * (s - mean)) / (rest - 1) : 0;
        return new TraceEstimate(top + mean, Math.Sqrt(variance / rest), products);
    }

    /// <summary>
    /// Stochastic Lanczos quadrature: <paramref name="runs"/> Lanczos runs of <paramref name="steps"/> steps
    /// from Rademacher vectors; each Ritz value θ carries weight τ² (the first component of its
    /// eigenvector of the tridiagonal matrix). The density is Σ weights·N(x; θ, σ²) on a grid that covers
    /// the nodes with a margin of 5σ.
    /// </summary>
    public static SpectralDensity Density(HessianOperator h, int steps = 80, int runs = 1, int gridPoints = 1000, double? sigma = null, long seed = 0)
    {
        if (steps < 1) throw new ArgumentException($"steps ({steps}) must be at least 1", nameof(steps));
        if (runs < 1) throw new ArgumentException($"runs ({runs}) must be at least 1", nameof(runs));
        if (gridPoints < 2) throw new ArgumentException($"gridPoints ({gridPoints}) must be at least 2", nameof(gridPoints));
        var gen = new Generator((ulong)seed);
        var nodes = new List<double>();
        var weights = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            using var scope = NewDisposeScope();
            var (alpha, beta, _) = Lanczos(h, Normalize(Rademacher(h.Dimension, h.DType, gen)), (int)Math.Min(steps, h.Dimension));
            var (theta, u) = Tridiagonal(alpha, beta);
            for (int i = 0; i < theta.Length; i++)
            {
                nodes.Add(theta[i]);
                weights.Add(Math.Pow(u[0, i].ToDouble(), 2) / runs);
            }
        }
        double lo = nodes.Min(), hi = nodes.Max();
        double s = sigma ?? Math.Max((hi - lo) / 100, Math.Max(Math.Abs(hi), Math.Abs(lo)) * 1e-3 + 1e-12);
        if (!(s > 0)) throw new ArgumentException($"sigma ({s}) must be > 0", nameof(sigma));
        double start = lo - 5 * s, end = hi + 5 * s;
        var grid = Enumerable.Range(0, gridPoints).Select(i => start + (end - start) * i / (gridPoints - 1)).ToArray();
        var values = grid.Select(x => nodes.Select((t, i) => weights[i] * Math.Exp(-(x - t) * (x - t) / (2 * s * s)) / (s * Math.Sqrt(2 * Math.PI))).Sum()).ToArray();
        return new SpectralDensity(nodes.ToArray(), weights.ToArray(), grid, values, s);
    }

    /// <summary>Lanczos with full reorthogonalization; stops early on breakdown (an invariant subspace).</summary>
    private static (List<double> Alpha, List<double> Beta, List<Tensor> Basis) Lanczos(HessianOperator h, Tensor q0, int steps)
    {
        var alpha = new List<double>();
        var beta = new List<double>();
        var basis = new List<Tensor> { q0 };
        var q = q0;
        for (int j = 0; j < steps; j++)
        {
            using var scope = NewDisposeScope();
            var w = h.Apply(q);
            double a = w.dot(q).ToDouble();
            alpha.Add(a);
            foreach (var b in basis) w = w - b * w.dot(b);
            foreach (var b in basis) w = w - b * w.dot(b);
            double norm = w.norm().ToDouble();
            double scale = Math.Max(Math.Abs(a), alpha.Select(Math.Abs).Max());
            if (j == steps - 1 || norm <= 1e-10 * Math.Max(scale, 1e-300)) break;
            beta.Add(norm);
            q = (w / norm).MoveToOuterDisposeScope();
            basis.Add(q);
        }
        basis.RemoveRange(alpha.Count, basis.Count - alpha.Count);
        return (alpha, beta, basis);
    }

    private static (double[] Theta, Tensor U) Tridiagonal(List<double> alpha, List<double> beta)
    {
        int m = alpha.Count;
        var t = zeros(m, m, dtype: ScalarType.Float64);
        for (int i = 0; i < m; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < m) { t[i, i + 1] = beta[i]; t[i + 1, i] = beta[i]; }
        }
        var (theta, u) = linalg.eigh(t);
        return (theta.data<double>().ToArray(), u);
    }

    private static Tensor Rademacher(long n, ScalarType dtype, Generator gen) =>
        randint(0, 2, new[] { n }, generator: gen).to(dtype) * 2 - 1;

    private static Tensor Normalize(Tensor v) => v / v.norm();
}
